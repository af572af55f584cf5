namespace DocumentAnalysis.Documents;

/// <summary>A batch of documents analyzed together, with its totals once done.</summary>
public sealed record Batch(string BatchId, string Status, int Total, int? Succeeded, int? Failed);

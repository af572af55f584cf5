namespace DocumentAnalysis.Documents;

/// <summary>A document as the API shows it.</summary>
public sealed record Document(string DocId, string Status, string? Analysis, string? Error, string? ApprovedBy);

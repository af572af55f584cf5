namespace DocumentAnalysis;

/// <summary>The payload of <c>batch/requested</c>: the documents of a batch, already recorded with their ids.</summary>
public sealed record BatchRequested(string BatchId, IReadOnlyList<BatchDocument> Documents);

/// <summary>One document of a batch.</summary>
public sealed record BatchDocument(string DocId, string FileUrl);

namespace DocumentAnalysis;

/// <summary>The payload of <c>doc/uploaded</c>.</summary>
public sealed record DocUploaded(string DocId, string FileUrl);

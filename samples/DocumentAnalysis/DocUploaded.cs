namespace DocumentAnalysis;

/// <summary>The payload of <c>doc/uploaded</c>. With <paramref name="RequireApproval"/>, the analysis waits for a person's approval.</summary>
public sealed record DocUploaded(string DocId, string FileUrl, bool RequireApproval = false);

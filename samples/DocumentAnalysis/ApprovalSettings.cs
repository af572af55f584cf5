namespace DocumentAnalysis;

/// <summary>How long a document waits for approval before it expires (<c>APPROVAL_TIMEOUT</c>, default 7 days).</summary>
public sealed record ApprovalSettings(TimeSpan Timeout);

namespace DocumentAnalysis;

/// <summary>The payload of <c>doc/approved</c>, sent by <c>POST /documents/{docId}/approve</c>.</summary>
public sealed record DocApproved(string DocId, string Approver);

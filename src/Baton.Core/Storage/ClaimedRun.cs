namespace Baton.Storage;

/// <summary>A run handed to a worker by a claim.</summary>
public sealed record ClaimedRun(RunLease Lease, string FunctionId, string InputJson, int Attempt, DateTimeOffset CreatedAt, string? ParentRunId = null);

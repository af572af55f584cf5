namespace Baton.Storage;

/// <summary>A run handed to a worker by a claim.</summary>
/// <remarks>
/// <paramref name="StartedAt"/> is when a worker first claimed the run (this claim, for a new run);
/// <paramref name="FinishBy"/> the deadline of its finish timeout, once set. A provider may read the journal of a run that
/// has executed before (<see cref="RunLease.Token"/> above 1) with the claim (<paramref name="Journal"/>); null means the
/// worker reads it itself.
/// </remarks>
public sealed record ClaimedRun(
    RunLease Lease,
    string FunctionId,
    string InputJson,
    int Attempt,
    DateTimeOffset CreatedAt,
    string? ParentRunId = null,
    DateTimeOffset? StartedAt = null,
    DateTimeOffset? FinishBy = null,
    DateTimeOffset? StartBy = null,
    IReadOnlyList<StepRecord>? Journal = null);

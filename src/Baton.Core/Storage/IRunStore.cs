namespace Baton.Storage;

/// <summary>Runs and their journals.</summary>
public interface IRunStore
{
    /// <summary>
    /// Creates runs and enqueues them, durably, in one transaction. Returns the run id for each: its own, or, when its
    /// idempotency key is taken, the id of the run that holds the key (nothing is created then).
    /// </summary>
    Task<IReadOnlyList<string>> CreateAsync(IReadOnlyList<NewRun> runs, CancellationToken cancellationToken);

    /// <summary>Reads one run, or null.</summary>
    Task<RunRecord?> GetAsync(string runId, CancellationToken cancellationToken);

    /// <summary>Runs matching <paramref name="filter"/>, newest first.</summary>
    Task<IReadOnlyList<RunRecord>> ListAsync(RunFilter filter, CancellationToken cancellationToken);

    /// <summary>
    /// How many runs match <paramref name="filter"/>, by status (its status, position and limit are ignored). Statuses
    /// without runs are left out.
    /// </summary>
    Task<IReadOnlyDictionary<RunStatus, long>> CountAsync(RunFilter filter, CancellationToken cancellationToken);

    /// <summary>The durable waits a run has now (for events, for child runs), in no particular order.</summary>
    Task<IReadOnlyList<RunWait>> GetWaitsAsync(string runId, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a large value (compressed) of a run under a new id, durably, before the journal entry or run end that
    /// refers to it is written. A value whose reference is never written is deleted with its run.
    /// </summary>
    Task StoreLargeValueAsync(string id, string runId, byte[] compressed, long bytes, CancellationToken cancellationToken);

    /// <summary>Reads a large value (compressed) by id, or null when there is none (deleted with its run).</summary>
    Task<byte[]?> LoadLargeValueAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Applies <paramref name="patch"/> to a run's progress, metadata and tags, unless the metadata would then be longer than
    /// <paramref name="maxMetadataChars"/> or the run would have more than <paramref name="maxTags"/> tags. Returns false
    /// when nothing was changed for that reason (or there is no such run). The write is fenced by
    /// <paramref name="writer"/>, the lease of the execution that writes (the run's own, or a child's writing to its parent).
    /// </summary>
    /// <exception cref="LeaseLostException"><paramref name="writer"/> no longer holds its run: nothing was changed.</exception>
    Task<bool> UpdateMetadataAsync(RunLease writer, string runId, RunMetadataPatch patch, int maxMetadataChars, int maxTags, CancellationToken cancellationToken);

    /// <summary>Reads a run's journal in the order its entries were first written.</summary>
    Task<IReadOnlyList<StepRecord>> GetStepsAsync(string runId, CancellationToken cancellationToken);

    /// <summary>How each child run started by a step ended, in the order they were started.</summary>
    Task<IReadOnlyList<ChildResult>> GetChildrenAsync(string parentRunId, string stepKey, CancellationToken cancellationToken);

    /// <summary>
    /// Ends a run that has not ended yet with <paramref name="status"/> (cancelled, timed out, expired) and
    /// <paramref name="reason"/>, wherever it is (queued, waiting, or running: its lease is then gone, so its worker writes
    /// nothing more), removes its waits, reports to its parent, and cancels its unfinished descendants. Returns false when
    /// the run had already ended or does not exist.
    /// </summary>
    Task<bool> CancelAsync(string runId, RunStatus status, RunError reason, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes up to <paramref name="batchSize"/> runs that ended before <paramref name="cutoff"/>, with their journals
    /// and large values, and up to as many events received before it. Unfinished runs are never deleted. Returns how many rows went.
    /// </summary>
    Task<int> PurgeAsync(DateTimeOffset cutoff, int batchSize, CancellationToken cancellationToken);
}

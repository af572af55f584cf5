namespace Baton.Storage;

/// <summary>Runs and their journals.</summary>
public interface IRunStore
{
    /// <summary>Creates runs and enqueues them, durably, in one transaction.</summary>
    Task CreateAsync(IReadOnlyList<NewRun> runs, CancellationToken cancellationToken);

    /// <summary>Reads one run, or null.</summary>
    Task<RunRecord?> GetAsync(string runId, CancellationToken cancellationToken);

    /// <summary>Reads a run's journal in the order its entries were first written.</summary>
    Task<IReadOnlyList<StepRecord>> GetStepsAsync(string runId, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes up to <paramref name="batchSize"/> runs that ended before <paramref name="cutoff"/>, with their journals,
    /// and up to as many events received before it. Unfinished runs are never deleted. Returns how many rows went.
    /// </summary>
    Task<int> PurgeAsync(DateTimeOffset cutoff, int batchSize, CancellationToken cancellationToken);
}

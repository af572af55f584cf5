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
}

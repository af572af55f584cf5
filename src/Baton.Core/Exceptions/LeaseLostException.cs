namespace Baton.Storage;

/// <summary>
/// Thrown by storage when a write is fenced off because the run's lease is no longer held by the writer (it expired
/// and another worker claimed the run). The writer must abandon the run without further writes.
/// </summary>
public sealed class LeaseLostException : BatonException
{
    /// <summary>Creates the exception.</summary>
    public LeaseLostException(string runId)
        : base($"The lease on run '{runId}' is no longer held by this worker; another worker has claimed it.")
    {
        RunId = runId;
    }

    /// <summary>The run whose lease was lost.</summary>
    public string RunId { get; }
}

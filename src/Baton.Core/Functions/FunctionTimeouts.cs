namespace Baton;

/// <summary>Limits on how long a run may wait to start and may take to finish. Both default to none.</summary>
public sealed class FunctionTimeouts
{
    /// <summary>
    /// A run not started by a worker within this long of its creation is not run: it ends <see cref="RunStatus.Expired"/>.
    /// </summary>
    public TimeSpan? Start { get; set; }

    /// <summary>
    /// A run not finished within this long of its start is cancelled, wherever it is: it ends
    /// <see cref="RunStatus.TimedOut"/>, and a step body still running sees its cancellation token fire.
    /// </summary>
    public TimeSpan? Finish { get; set; }
}

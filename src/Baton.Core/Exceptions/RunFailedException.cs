namespace Baton;

/// <summary>Thrown by <c>TriggerAndWaitAsync</c> when the run ended without completing (failed, cancelled, timed out, ...).</summary>
public sealed class RunFailedException : BatonException
{
    /// <summary>Creates the exception.</summary>
    public RunFailedException(RunInfo run)
        : base($"Run {run?.Id} of '{run?.FunctionId}' ended {run?.Status.ToWireName()}: {run?.Error?.Type}: {run?.Error?.Message}")
    {
        ArgumentNullException.ThrowIfNull(run);
        Run = run;
    }

    /// <summary>The run as it ended, with its error and steps.</summary>
    public RunInfo Run { get; }
}

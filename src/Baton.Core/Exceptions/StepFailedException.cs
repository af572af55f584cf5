namespace Baton;

/// <summary>
/// Thrown into a function when one of its steps failed for good (its retries are exhausted, or it threw a
/// <see cref="NonRetriableException"/>). Catch it to recover; left uncaught, the run fails without further retries.
/// </summary>
/// <remarks>A replay throws the same exception again at the same step: the failure is part of the journal.</remarks>
public sealed class StepFailedException : BatonException
{
    /// <summary>Creates the exception for a step and its recorded error.</summary>
    public StepFailedException(string stepId, RunError error)
        : base($"Step '{stepId}' failed: {error?.Type}: {error?.Message}")
    {
        ArgumentNullException.ThrowIfNull(error);
        StepId = stepId;
        Error = error;
    }

    /// <summary>The key of the step that failed.</summary>
    public string StepId { get; }

    /// <summary>The step's last error.</summary>
    public RunError Error { get; }
}

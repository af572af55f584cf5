namespace Baton;

/// <summary>An attempt of a step body ran longer than its <see cref="StepOptions.Timeout"/>; it is retried like any error.</summary>
public sealed class StepTimeoutException : TimeoutException
{
    /// <summary>Creates the exception for a step and its timeout.</summary>
    public StepTimeoutException(string stepKey, TimeSpan timeout)
        : base($"Step '{stepKey}' timed out after {timeout} (its StepOptions.Timeout).")
    {
        StepKey = stepKey;
        Timeout = timeout;
    }

    /// <summary>The step.</summary>
    public string StepKey { get; }

    /// <summary>The timeout it exceeded.</summary>
    public TimeSpan Timeout { get; }
}

namespace Baton;

/// <summary>Per-step settings that override the function's.</summary>
public sealed class StepOptions
{
    /// <summary>Retries after the first attempt for this step. Default: the function's <see cref="FunctionOptions.Retries"/>.</summary>
    public int? Retries { get; set; }

    /// <summary>Delay before each retry of this step. Default: the function's <see cref="FunctionOptions.Backoff"/>.</summary>
    public Backoff? Backoff { get; set; }
}

namespace Baton;

/// <summary>Per-step settings that override the function's.</summary>
public sealed class StepOptions
{
    /// <summary>Retries after the first attempt for this step. Default: the function's <see cref="FunctionOptions.Retries"/>.</summary>
    public int? Retries { get; set; }

    /// <summary>Delay before each retry of this step. Default: the function's <see cref="FunctionOptions.Backoff"/>.</summary>
    public Backoff? Backoff { get; set; }

    /// <summary>
    /// The longest one attempt of the body may take. When it is up, the body's
    /// <see cref="StepExecution.CancellationToken"/> fires and the attempt fails with a <see cref="StepTimeoutException"/>,
    /// which is retried like any error (an async body that ignores its token is no longer waited for; its result is
    /// dropped, and it may still be running when the next attempt starts; code before its first <c>await</c> is not
    /// timed). At most about 49 days. Default: none. The run's lease is renewed by heartbeats however long an attempt takes.
    /// </summary>
    public TimeSpan? Timeout { get; set; }
}

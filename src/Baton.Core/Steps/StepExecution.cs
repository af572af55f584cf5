namespace Baton;

/// <summary>What a step body may want to know: its key, an idempotency key for external calls, and its attempt.</summary>
public sealed class StepExecution
{
    private readonly string _runId;
    private string? _idempotencyKey;

    internal StepExecution(string runId, string key, int attempt, CancellationToken cancellationToken)
    {
        _runId = runId;
        Key = key;
        Attempt = attempt;
        CancellationToken = cancellationToken;
    }

    /// <summary>The step key (<c>id</c>, or <c>id:n</c> for the n-th repeat).</summary>
    public string Key { get; }

    /// <summary>
    /// <c>{runId}:{stepKey}</c>: the same on every attempt of this step, different for every other step. Pass it to
    /// external APIs that deduplicate (payments, emails) so a retried body does not repeat the side effect.
    /// </summary>
    public string IdempotencyKey => _idempotencyKey ??= $"{_runId}:{Key}";

    /// <summary>This attempt of the step body, starting at 1.</summary>
    public int Attempt { get; }

    /// <summary>The run's cancellation token, which also fires when the step's <see cref="StepOptions.Timeout"/> is up.</summary>
    public CancellationToken CancellationToken { get; }
}

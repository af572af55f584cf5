namespace Baton.Storage;

/// <summary>
/// What an event did for one function: started a run (<paramref name="RunId"/> and its <paramref name="Status"/>), or
/// started none and why (<paramref name="SkipReason"/>: <c>rate-limited</c>, <c>idempotency</c>, <c>debounced</c>, ...).
/// </summary>
public sealed record EventOutcome(string EventId, string FunctionId, string? RunId, RunStatus? Status, string? SkipReason);

namespace Baton;

/// <summary>
/// A run an event did not start for a function that listens to it, and why: <c>filtered</c> (the trigger's condition
/// was false), <c>rate-limited</c>, <c>idempotency</c> (the key was taken), <c>debounced</c>, or <c>batched</c> (the
/// event joined an open batch run).
/// </summary>
public sealed record SkippedRunInfo(string FunctionId, string Reason);

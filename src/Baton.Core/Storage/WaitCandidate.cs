namespace Baton.Storage;

/// <summary>
/// A wait that an incoming event (by its index in the append) may resolve: found by name and match value; its
/// condition, if any, is still to be checked against the trigger (<paramref name="TriggerInputJson"/>, the run's input).
/// </summary>
public sealed record WaitCandidate(int EventIndex, string RunId, string StepKey, string? Condition, string? TriggerInputJson, WaitKind Kind = WaitKind.Event);

namespace Baton.Storage;

/// <summary>
/// A run waiting for an event: its name; an optional <paramref name="MatchPath"/> (<c>data.docId</c>: the incoming
/// event's value there must equal the trigger's, the indexed lookup); an optional CEL <paramref name="Condition"/> over
/// <c>event</c> (the trigger) and <c>async</c> (the candidate); and, for a look-back, the earliest receipt time of an
/// event already stored that may match. <paramref name="TriggerInputJson"/> is the run's input (an array of events).
/// </summary>
public sealed record EventWait(string EventName, string? MatchPath, string? Condition, string TriggerInputJson, DateTimeOffset? LookbackFrom);

namespace Baton;

/// <summary>
/// Runs once per burst of events: a run starts <paramref name="Period"/> after the last event for its key (a CEL
/// expression over the event; null: one for the whole function), with the latest event as its input, but no later than
/// <paramref name="Timeout"/> after the burst's first event. Applies to runs started by events.
/// </summary>
public sealed record Debounce(TimeSpan Period, string? Key = null, TimeSpan? Timeout = null);

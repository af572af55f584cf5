namespace Baton;

/// <summary>
/// Runs once per batch of events: events for the same key (a CEL expression over the event; null: one batch for the
/// whole function) are collected until <paramref name="MaxSize"/> have arrived, or <paramref name="Timeout"/> after the
/// batch's first event, and the run gets them all (<see cref="FunctionContext{TEvent}.Events"/>; <c>Event</c> is the
/// first). Applies to runs started by events; a run triggered or invoked directly gets its own input alone.
/// </summary>
public sealed record EventBatch(int MaxSize, TimeSpan Timeout, string? Key = null);

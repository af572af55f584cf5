namespace Baton;

/// <summary>
/// Cancels a function's unfinished runs (queued, running or waiting) when a matching event arrives. Add with
/// <see cref="FunctionOptions.CancelOnEvent"/>.
/// </summary>
/// <param name="EventName">The event that cancels.</param>
/// <param name="Match">A path such as <c>data.docId</c>: the event's value there must equal the run trigger's.</param>
/// <param name="If">A CEL expression over <c>event</c> (the run's trigger) and <c>async</c> (the cancelling event).</param>
public sealed record CancelOn(string EventName, string? Match = null, string? If = null);

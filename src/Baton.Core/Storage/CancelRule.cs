namespace Baton.Storage;

/// <summary>
/// A function's rule for cancelling its runs by event, as registered in the catalog: when an event named
/// <paramref name="EventName"/> arrives whose value at <paramref name="MatchPath"/> equals the run trigger's, and whose
/// <paramref name="Condition"/> holds, every unfinished run of the function it matches is cancelled.
/// </summary>
public sealed record CancelRule(string EventName, string? MatchPath, string? Condition);

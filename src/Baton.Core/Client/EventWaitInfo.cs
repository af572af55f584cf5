namespace Baton;

/// <summary>
/// The event a waiting step waits for: its name, the value the event must carry (<c>data.docId == "42"</c>) and a CEL
/// condition, when the step gave them.
/// </summary>
public sealed record EventWaitInfo(string EventName, string? Match, string? Condition);

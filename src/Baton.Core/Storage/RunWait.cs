namespace Baton.Storage;

/// <summary>
/// A durable wait of a run as stored: the step it belongs to, what it is for, and for an event wait which event resolves
/// it (its name, the path whose value must equal <paramref name="MatchValueJson"/>, a CEL condition).
/// </summary>
public sealed record RunWait(string StepKey, WaitKind Kind, string? EventName, string? MatchPath, string? MatchValueJson, string? Condition);

namespace Baton.Storage;

/// <summary>A registered function that an event name triggers, with the trigger's CEL condition over <c>event</c>, if any.</summary>
public readonly record struct TriggerMatch(string EventName, string FunctionId, string? Condition = null);

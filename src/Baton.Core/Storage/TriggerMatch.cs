namespace Baton.Storage;

/// <summary>A registered function that an event name triggers.</summary>
public readonly record struct TriggerMatch(string EventName, string FunctionId);

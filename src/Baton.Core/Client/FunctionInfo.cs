using System.Text.Json;

namespace Baton;

/// <summary>A function registered by some node: its id, name, event triggers, and its whole definition (options).</summary>
/// <param name="Id">The function id.</param>
/// <param name="Triggers">The event names that start it.</param>
/// <param name="Definition">Its definition as registered: name, triggers, retries, flow control, schedules, timeouts.</param>
/// <param name="UpdatedAt">When a node last registered a changed definition.</param>
public sealed record FunctionInfo(string Id, IReadOnlyList<string> Triggers, JsonElement Definition, DateTimeOffset UpdatedAt);

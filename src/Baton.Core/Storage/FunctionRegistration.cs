namespace Baton.Storage;

/// <summary>
/// A function as registered in storage by a worker, so other nodes know it, route its events, and create its runs with
/// their cancel rules.
/// </summary>
public sealed record FunctionRegistration(string Id, IReadOnlyList<string> Triggers, string DefinitionJson, string Hash, DateTimeOffset UpdatedAt)
{
    /// <summary>Conditions (CEL over <c>event</c>) of event triggers, by event name.</summary>
    public IReadOnlyDictionary<string, string> TriggerConditions { get; init; } = new Dictionary<string, string>();

    /// <summary>The rules that cancel the function's runs by event.</summary>
    public IReadOnlyList<CancelRule> CancelRules { get; init; } = [];
}

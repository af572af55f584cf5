namespace Baton.Storage;

/// <summary>
/// A function as registered in storage by a worker, so other nodes know it, route its events, and create its runs with
/// their cancel rules.
/// </summary>
public sealed record FunctionRegistration(string Id, IReadOnlyList<string> Triggers, string DefinitionJson, string Hash, DateTimeOffset UpdatedAt)
{
    /// <summary>The rules that cancel the function's runs by event.</summary>
    public IReadOnlyList<CancelRule> CancelRules { get; init; } = [];
}

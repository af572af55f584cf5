namespace Baton.Storage;

/// <summary>A function as registered in storage by a worker, so other nodes know it and route its events.</summary>
public sealed record FunctionRegistration(string Id, IReadOnlyList<string> Triggers, string DefinitionJson, string Hash, DateTimeOffset UpdatedAt);

namespace Baton.Storage;

/// <summary>A run to create and enqueue. <paramref name="InputJson"/> is a JSON array of the triggering events.</summary>
public sealed record NewRun(string Id, string FunctionId, string InputJson, DateTimeOffset CreatedAt, DateTimeOffset AvailableAt, string? EventId);

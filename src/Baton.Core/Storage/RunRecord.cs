namespace Baton.Storage;

/// <summary>A run as stored.</summary>
public sealed record RunRecord(
    string Id,
    string FunctionId,
    RunStatus Status,
    string InputJson,
    string? OutputJson,
    RunError? Error,
    int Attempt,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt)
{
    /// <summary>The run's tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];
}

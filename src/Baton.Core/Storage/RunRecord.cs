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

    /// <summary>The run's progress as JSON (<c>{value, message, updatedAt}</c>), when a step reported one.</summary>
    public string? ProgressJson { get; init; }

    /// <summary>The run's metadata as a JSON object, when set.</summary>
    public string? MetadataJson { get; init; }
}

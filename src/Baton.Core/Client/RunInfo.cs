using System.Text.Json;

namespace Baton;

/// <summary>A run as the client reports it: status, input, output or error, and its steps.</summary>
public sealed record RunInfo
{
    /// <summary>The run id.</summary>
    public required string Id { get; init; }

    /// <summary>The function the run executes.</summary>
    public required string FunctionId { get; init; }

    /// <summary>Where the run is.</summary>
    public required RunStatus Status { get; init; }

    /// <summary>The triggering event (<c>{id, name, data, ts}</c>).</summary>
    public required JsonElement Event { get; init; }

    /// <summary>
    /// Every event the run was started with, in order: one, or several for a batch (<see cref="Event"/> is the first).
    /// </summary>
    public IReadOnlyList<JsonElement> Events { get; init; } = [];

    /// <summary>The function's return value as JSON, once completed.</summary>
    public JsonElement? Output { get; init; }

    /// <summary>
    /// The size in bytes of an output stored out of line (<see cref="BatonOptions.LargeValueBytes"/>) when
    /// <see cref="Output"/> was not read: in run lists. A single run (<see cref="IBatonClient.GetRunAsync"/>) has it read.
    /// </summary>
    public long? OutputBytes { get; init; }

    /// <summary>The error, once failed.</summary>
    public RunError? Error { get; init; }

    /// <summary>The current function-level attempt, starting at 1 once the run has started.</summary>
    public int Attempt { get; init; }

    /// <summary>When the run was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When a worker first started it.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When it ended.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>The progress its steps last reported, if any.</summary>
    public RunProgress? Progress { get; init; }

    /// <summary>The metadata its steps (or its children) set, as a JSON object, if any.</summary>
    public JsonElement? Metadata { get; init; }

    /// <summary>The run's tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The journal, in the order the steps were first recorded.</summary>
    public IReadOnlyList<StepInfo> Steps { get; init; } = [];

    /// <summary>Deserializes <see cref="Output"/> to <typeparamref name="T"/> with the given options.</summary>
    public T? GetOutput<T>(JsonSerializerOptions? options = null) =>
        Output is { } output ? output.Deserialize<T>(options ?? JsonSerializerOptions.Web) : default;
}

using System.Text.Json;

namespace Baton;

/// <summary>The payload of <see cref="LifecycleEvents.FunctionFinished"/> and <see cref="LifecycleEvents.FunctionFailed"/>.</summary>
public sealed class FunctionFinishedData
{
    /// <summary>The function whose run ended.</summary>
    public required string FunctionId { get; init; }

    /// <summary>The run that ended.</summary>
    public required string RunId { get; init; }

    /// <summary><c>completed</c> or <c>failed</c>.</summary>
    public required string Status { get; init; }

    /// <summary>The run's output when it completed.</summary>
    public JsonElement? Output { get; init; }

    /// <summary>The run's error when it failed.</summary>
    public RunError? Error { get; init; }

    /// <summary>The event that triggered the run.</summary>
    public JsonElement? Event { get; init; }
}

using System.Text.Json;
using Baton.Engine;

namespace Baton;

/// <summary>The context of an <c>OnFailure</c> handler: which run failed, why, and the durable step tools.</summary>
public sealed class FailureContext : FunctionContext
{
    private readonly JsonSerializerOptions _json;

    internal FailureContext(RunExecution execution, JsonElement rawEvent, FunctionFinishedData failure)
        : base(execution, rawEvent)
    {
        Failure = failure;
        _json = execution.JsonOptions;
    }

    /// <summary>The failed run: its function, id, error and triggering event.</summary>
    public FunctionFinishedData Failure { get; }

    /// <summary>Deserializes the failed run's triggering event payload, or returns default when it has none.</summary>
    public T? GetFailedEventData<T>() =>
        Failure.Event is { } e && e.ValueKind == JsonValueKind.Object && e.TryGetProperty("data", out var data)
            ? data.Deserialize<T>(_json)
            : default;
}

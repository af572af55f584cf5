using System.Text.Json;

namespace Baton.Engine;

/// <summary>What a function's definition says about creating its runs: expressions over the trigger, and a window.</summary>
internal sealed record CreationRules(
    string? ConcurrencyKey,
    string? Priority,
    string? IdempotencyKey,
    TimeSpan IdempotencyWindow,
    Singleton? Singleton = null,
    RateLimit? RateLimit = null,
    Throttle? Throttle = null,
    Debounce? Debounce = null,
    string Queue = "default",
    EventBatch? Batch = null)
{
    public static readonly CreationRules None = new(null, null, null, TimeSpan.Zero);

    /// <summary>The rules in a function's catalog definition (written by <see cref="FunctionRegistry.ToRegistrations"/>).</summary>
    public static CreationRules FromDefinition(string definitionJson)
    {
        using var document = JsonDocument.Parse(definitionJson);
        var root = document.RootElement;
        static string? Text(JsonElement parent, string name) =>
            parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        var idempotency = root.TryGetProperty("idempotency", out var idem) ? idem : default;
        var singleton = root.TryGetProperty("singleton", out var single) && single.ValueKind == JsonValueKind.Object
            ? new Singleton(Text(single, "key"), Enum.Parse<SingletonMode>(Text(single, "mode") ?? nameof(SingletonMode.Skip)))
            : null;
        static TimeSpan Span(JsonElement parent, string name) =>
            Text(parent, name) is { } span ? TimeSpan.Parse(span, System.Globalization.CultureInfo.InvariantCulture) : TimeSpan.Zero;
        static int Number(JsonElement parent, string name) =>
            parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : 0;
        var rate = root.TryGetProperty("rateLimit", out var r) && r.ValueKind == JsonValueKind.Object
            ? new RateLimit(Number(r, "limit"), Span(r, "period"), Text(r, "key"))
            : null;
        var throttle = root.TryGetProperty("throttle", out var t) && t.ValueKind == JsonValueKind.Object
            ? new Throttle(Number(t, "limit"), Span(t, "period"), Text(t, "key"), Number(t, "burst"))
            : null;
        var debounce = root.TryGetProperty("debounce", out var d) && d.ValueKind == JsonValueKind.Object
            ? new Debounce(Span(d, "period"), Text(d, "key"), Text(d, "timeout") is null ? null : Span(d, "timeout"))
            : null;
        var batch = root.TryGetProperty("batch", out var b) && b.ValueKind == JsonValueKind.Object
            ? new EventBatch(Number(b, "maxSize"), Span(b, "timeout"), Text(b, "key"))
            : null;
        return new CreationRules(
            root.TryGetProperty("concurrency", out var concurrency) ? Text(concurrency, "key") : null,
            Text(root, "priority"),
            Text(idempotency, "key"),
            Text(idempotency, "window") is { } window ? TimeSpan.Parse(window, System.Globalization.CultureInfo.InvariantCulture) : TimeSpan.Zero,
            singleton,
            rate,
            throttle,
            debounce,
            Text(root, "queue") ?? "default",
            batch);
    }
}

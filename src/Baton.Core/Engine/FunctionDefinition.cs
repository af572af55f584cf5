using System.Text.Json;

namespace Baton.Engine;

/// <summary>A validated function, ready to run.</summary>
internal sealed class FunctionDefinition
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public required IReadOnlyList<string> Triggers { get; init; }

    public required RetryPolicy Retry { get; init; }

    public required FunctionInvoker Invoker { get; init; }

    public required Type EventType { get; init; }

    /// <summary>An extra condition on a triggering event's payload (used by the built-in failure handlers).</summary>
    public Func<JsonElement, bool>? Filter { get; init; }

    /// <summary>How many runs of the whole function may execute at once, if limited.</summary>
    public int? ConcurrencyLimit { get; init; }

    /// <summary>How many runs per concurrency key may execute at once, if limited, and the key's expression.</summary>
    public (int Limit, string Key)? KeyedConcurrency { get; init; }

    /// <summary>Conditions of event triggers, by event name.</summary>
    public IReadOnlyDictionary<string, string> TriggerConditions { get; init; } = new Dictionary<string, string>();

    /// <summary>The queue its runs wait in.</summary>
    public string Queue { get; init; } = "default";

    /// <summary>The debounce, if any.</summary>
    public Debounce? Debounce { get; init; }

    /// <summary>The event batching, if any.</summary>
    public EventBatch? Batch { get; init; }

    /// <summary>The rate limit, if any.</summary>
    public RateLimit? RateLimit { get; init; }

    /// <summary>The throttle, if any.</summary>
    public Throttle? Throttle { get; init; }

    /// <summary>The singleton rule, if any.</summary>
    public Singleton? Singleton { get; init; }

    /// <summary>The priority expression, if any.</summary>
    public string? Priority { get; init; }

    /// <summary>The idempotency expression and window, if any.</summary>
    public (string Key, TimeSpan Window)? Idempotency { get; init; }

    /// <summary>Cron triggers.</summary>
    public IReadOnlyList<CronSchedule> Schedules { get; init; } = [];

    /// <summary>Rules that cancel runs by event.</summary>
    public IReadOnlyList<CancelOn> CancelOn { get; init; } = [];

    /// <summary>Start and finish timeouts.</summary>
    public TimeSpan? StartTimeout { get; init; }

    /// <summary>How long a run may take from its start.</summary>
    public TimeSpan? FinishTimeout { get; init; }

    /// <summary>The function that owns this one, for built-in failure handlers.</summary>
    public string? ParentId { get; init; }

    public bool Accepts(string eventName, JsonElement data) =>
        Triggers.Contains(eventName, StringComparer.Ordinal) && (Filter is null || Filter(data));
}

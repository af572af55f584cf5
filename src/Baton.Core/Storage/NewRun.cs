namespace Baton.Storage;

/// <summary>A run to create and enqueue. <paramref name="InputJson"/> is a JSON array of the triggering events.</summary>
/// <remarks>
/// A child run (of <c>Step.Invoke</c> or <c>Step.BatchInvoke</c>) names its <paramref name="Parent"/>. A run re-run from a
/// step starts with a <paramref name="Journal"/> of the steps before it, which it replays instead of running. A function
/// with a per-key concurrency limit gives each run its <paramref name="ConcurrencyKey"/>, evaluated from the trigger.
/// <paramref name="AvailableAt"/> carries a delay, or a priority (earlier to jump ahead, later to fall behind).
/// </remarks>
public sealed record NewRun(
    string Id,
    string FunctionId,
    string InputJson,
    DateTimeOffset CreatedAt,
    DateTimeOffset AvailableAt,
    string? EventId,
    RunParent? Parent = null,
    IReadOnlyList<StepRecord>? Journal = null,
    string? ConcurrencyKey = null)
{
    /// <summary>
    /// What is written for the input when it differs from <see cref="InputJson"/>: the events with their large data
    /// replaced by references to values stored out of line (owned by this run). Storage writes this and evaluates cancel
    /// rules on <see cref="InputJson"/>.
    /// </summary>
    public string? StoredInputJson { get; init; }

    /// <summary>The input as written to storage.</summary>
    public string StoredInput => StoredInputJson ?? InputJson;

    /// <summary>
    /// With an idempotency key the run is created only if no run of its function holds the same key until later than
    /// its creation; it then holds the key until <see cref="IdempotentUntil"/>.
    /// </summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>Until when the run holds its <see cref="IdempotencyKey"/>.</summary>
    public DateTimeOffset IdempotentUntil { get; init; }

    /// <summary>
    /// With a singleton key, the function has at most one unfinished run per key: by <see cref="SingletonMode"/>, the new
    /// run is not created, or the unfinished one is cancelled.
    /// </summary>
    public string? SingletonKey { get; init; }

    /// <summary>What to do when another unfinished run holds <see cref="SingletonKey"/>.</summary>
    public SingletonMode SingletonMode { get; init; }

    /// <summary>
    /// With a debounce key, a run of the function with the same key that has not started yet absorbs this one: it takes
    /// this run's input and is due at this run's <see cref="AvailableAt"/>, but no later than its own
    /// <see cref="DebounceUntil"/>. Otherwise this run is created and holds the key until it starts.
    /// </summary>
    public string? DebounceKey { get; init; }

    /// <summary>The latest a debounced run may be pushed back to (its first event plus the debounce timeout).</summary>
    public DateTimeOffset DebounceUntil { get; init; } = DateTimeOffset.MaxValue;

    /// <summary>
    /// With a batch key, the function's open batch of that key (a run not started yet that holds the key) takes this
    /// run's event instead: the event is appended to its input, and the batch closes (is due at once, and gives up the
    /// key) when it holds <see cref="BatchMaxSize"/> events. Otherwise this run opens a batch, due at
    /// <see cref="AvailableAt"/> (its timeout). A claim closes a batch too.
    /// </summary>
    public string? BatchKey { get; init; }

    /// <summary>How many events close a batch.</summary>
    public int BatchMaxSize { get; init; } = 1;

    /// <summary>The latest moment a worker may start the run; a later first claim expires it.</summary>
    public DateTimeOffset? StartBy { get; init; }

    /// <summary>The run's tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The queue (worker pool) the run waits in.</summary>
    public string QueueName { get; init; } = "default";

    /// <summary>Rate rules to apply when the run is created: a rate limit may drop it, a throttle delays it.</summary>
    public IReadOnlyList<RateRule> RateRules { get; init; } = [];
}

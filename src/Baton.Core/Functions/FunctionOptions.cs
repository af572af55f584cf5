namespace Baton;

/// <summary>How a function is triggered and retried. Validated when registered.</summary>
public sealed class FunctionOptions
{
    /// <summary>A human-readable name for the dashboard. Default: the id.</summary>
    public string? Name { get; set; }

    /// <summary>Event names that start a run. A function can always be started by id too.</summary>
    public IList<string> Triggers { get; } = [];

    /// <summary>Retries after the first attempt, for each step and for errors outside steps. Default: 3.</summary>
    public int Retries { get; set; } = 3;

    /// <summary>Delay before each retry. Default: <see cref="Baton.Backoff.Default"/> (exponential 1 s .. 10 min, jitter).</summary>
    public Backoff Backoff { get; set; } = Backoff.Default;

    /// <summary>
    /// Runs durably after a run of this function has failed for good, as a run of its own (function id
    /// <c>{id}/on-failure</c>) with its own steps and retries.
    /// </summary>
    public Func<FailureContext, Task>? OnFailure { get; set; }

    /// <summary>
    /// Up to two concurrency limits: one for the function as a whole and one per key (see <see cref="ConcurrencyLimit"/>).
    /// Runs beyond a limit wait in the queue; runs of different keys take turns, so one busy key cannot starve the others.
    /// </summary>
    public IList<ConcurrencyLimit> Concurrency { get; } = [];

    /// <summary>Adds a concurrency limit: for the whole function, or per value of <paramref name="key"/>.</summary>
    public FunctionOptions LimitConcurrency(int limit, string? key = null)
    {
        Concurrency.Add(new ConcurrencyLimit(limit, key));
        return this;
    }

    /// <summary>Cron triggers: the function runs once per slot, whichever node fires it (see <see cref="CronSchedule"/>).</summary>
    public IList<CronSchedule> Schedules { get; } = [];

    /// <summary>
    /// Adds a cron trigger: 5 fields (<c>*/15 * * * *</c>) or 6 with seconds first, in an IANA time zone (default UTC).
    /// The run's payload is a <see cref="CronTick"/> with the slot's time.
    /// </summary>
    public FunctionOptions TriggerOnCron(string expression, string? timeZone = null, MissedSlots missed = MissedSlots.Skip)
    {
        Schedules.Add(new CronSchedule(expression, timeZone, missed));
        return this;
    }

    /// <summary>Rules that cancel this function's unfinished runs by event. Checked when the function is registered.</summary>
    public IList<CancelOn> CancelOn { get; } = [];

    /// <summary>How long a run may wait to start and take to finish.</summary>
    public FunctionTimeouts Timeouts { get; } = new();

    /// <summary>Cancels unfinished runs when a matching event arrives (see <see cref="Baton.CancelOn"/>).</summary>
    public FunctionOptions CancelOnEvent(string eventName, string? match = null, string? @if = null)
    {
        CancelOn.Add(new CancelOn(eventName, match, @if));
        return this;
    }

    /// <summary>Conditions on event triggers, by event name: a CEL expression over <c>event</c> that must hold for a run to start.</summary>
    public IDictionary<string, string> TriggerConditions { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// A CEL expression over <c>event</c> returning seconds: positive jumps a run ahead of runs queued up to that long
    /// before it, negative delays it. Clamped to -600..600. Applies within the function.
    /// </summary>
    public string? Priority { get; set; }

    /// <summary>A CEL expression over <c>event</c> for a key: one run per key within <see cref="IdempotencyWindow"/>.</summary>
    public string? Idempotency { get; set; }

    /// <summary>
    /// The queue (worker pool) the function's runs wait in, such as <c>gpu</c>; only nodes serving it
    /// (<see cref="BatonOptions.Queues"/>) claim them, and it can be paused. Default: <c>default</c>.
    /// </summary>
    public string Queue { get; set; } = "default";

    /// <summary>One run per burst of events, after a quiet period (see <see cref="Baton.Debounce"/>); null for none.</summary>
    public Debounce? Debounce { get; set; }

    /// <summary>
    /// One run per batch of events (see <see cref="EventBatch"/>); null for none. Not combined with debounce,
    /// idempotency, singleton, rate limit, throttle, priority or cancel rules, which each speak of one event.
    /// </summary>
    public EventBatch? Batch { get; set; }

    /// <summary>Collects events into batches: a run gets up to <paramref name="maxSize"/> events, or what came within <paramref name="timeout"/>.</summary>
    public FunctionOptions BatchEvents(int maxSize, TimeSpan timeout, string? key = null)
    {
        Batch = new EventBatch(maxSize, timeout, key);
        return this;
    }

    /// <summary>A hard limit on runs per period from events (see <see cref="Baton.RateLimit"/>); null for none.</summary>
    public RateLimit? RateLimit { get; set; }

    /// <summary>A limit on run starts per period that queues the excess (see <see cref="Baton.Throttle"/>); null for none.</summary>
    public Throttle? Throttle { get; set; }

    /// <summary>One unfinished run per key at a time (see <see cref="Baton.Singleton"/>); null for none.</summary>
    public Singleton? Singleton { get; set; }

    /// <summary>How long an idempotency key is held. Default: 24 hours.</summary>
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Adds an event trigger, with an optional condition (a CEL expression over <c>event</c>).</summary>
    public FunctionOptions TriggerOn(string eventName, string? @if = null)
    {
        Triggers.Add(eventName);
        if (@if is not null)
        {
            TriggerConditions[eventName] = @if;
        }

        return this;
    }

    internal RetryPolicy RetryPolicy => new(Retries, Backoff);
}

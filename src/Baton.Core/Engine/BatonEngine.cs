using System.Text;
using System.Text.Json;
using Baton.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Baton.Engine;

/// <summary>
/// The shared heart of a node: storage, the function registry, time, and the in-process signals that connect the
/// client to the worker. Creates runs from events and from triggers.
/// </summary>
internal sealed partial class BatonEngine
{
    // Functions registered on other nodes start receiving lifecycle events within this long of their registration.
    private static readonly TimeSpan LifecycleRoutesMaxAge = TimeSpan.FromSeconds(2);
    private readonly Lazy<Task> _started;
    private volatile LifecycleRoutes? _lifecycleRoutes;
    private readonly Lazy<FunctionRegistry> _registry;

    public BatonEngine(
        IBatonStorage storage,
        IServiceProvider services,
        IOptions<BatonOptions> options,
        TimeProvider time,
        ILoggerFactory loggerFactory)
    {
        Storage = storage;
        Services = services;
        Options = options.Value;
        Time = time;
        LoggerFactory = loggerFactory;
        Logger = loggerFactory.CreateLogger("Baton.Engine");
        NodeId = Options.NodeId ?? NodeIds.ForThisProcess();
        _registry = new(() => new FunctionRegistry(services.GetServices<FunctionDescriptor>()));
        _started = new(StartCoreAsync);
    }

    private LargeValues? _largeValues;

    public IBatonStorage Storage { get; }

    public IServiceProvider Services { get; }

    public BatonOptions Options { get; }

    public TimeProvider Time { get; }

    public ILoggerFactory LoggerFactory { get; }

    public ILogger Logger { get; }

    public string NodeId { get; }

    public FunctionRegistry Registry => _registry.Value;

    /// <summary>Set when this process created or re-queued work, so the local worker claims without waiting for a poll.</summary>
    public AsyncSignal WorkAvailable { get; } = new();

    /// <summary>Set when this process created, changed, paused or resumed a schedule: the schedule loop looks again.</summary>
    public AsyncSignal SchedulesChanged { get; } = new();

    public RunCompletionHub Completions { get; } = new();

    /// <summary>Step results and run outputs stored out of line.</summary>
    public LargeValues LargeValues => _largeValues ??= new LargeValues(this);

    public JsonSerializerOptions Json => Options.JsonSerializerOptions;

    /// <summary>Validates the functions, creates the schema and registers the functions, once per process.</summary>
    public Task EnsureStartedAsync() => _started.Value;

    private async Task StartCoreAsync()
    {
        // Options and functions are checked together, so one start-up error lists every problem.
        var problems = Options.Validate().ToList();
        FunctionRegistry? registry = null;
        try
        {
            registry = Registry;
        }
        catch (BatonConfigurationException ex)
        {
            problems.AddRange(ex.Problems);
        }

        if (problems.Count > 0 || registry is null)
        {
            throw new BatonConfigurationException(problems);
        }

        await Storage.InitializeAsync(CancellationToken.None).ConfigureAwait(false);
        var now = Time.GetUtcNow();
        await Storage.Functions.RegisterAsync(registry.ToRegistrations(now), CancellationToken.None).ConfigureAwait(false);
        var schedules = registry.All
            .SelectMany(f => f.Schedules.Select((c, i) => new ScheduleRecord(
                $"{f.Id}#{i}", f.Id, c.Expression, c.TimeZone ?? "UTC", c.Missed, CronPlan.Next(c.Expression, c.TimeZone, now))))
            .ToList();
        await Storage.Schedules.RegisterAsync(registry.Ids, schedules, CancellationToken.None).ConfigureAwait(false);
        LogStarted(Logger, NodeId, registry.Ids.Count);
    }

    public async Task<SendResult> SendAsync(IEnumerable<BatonEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        await EnsureStartedAsync().ConfigureAwait(false);
        var now = Time.GetUtcNow();
        var records = events.Select(e => ToRecord(e, now)).ToList();
        if (records.Count == 0)
        {
            return new SendResult([], []);
        }

        // An id repeated within one call is accepted once, like an id sent again later.
        var firsts = records.DistinctBy(r => r.Id, StringComparer.Ordinal).ToList();
        var appends = await WithTriggeredRunsAsync(firsts, now, cancellationToken).ConfigureAwait(false);
        var result = await Storage.Events.AppendAsync(appends, cancellationToken).ConfigureAwait(false);
        if (result.Accepted.Any(a => a))
        {
            // New runs, or waits the events resolved: either way the local worker may have work now.
            WorkAvailable.Set();
        }

        return new SendResult([.. records.Select(r => r.Id)], result.CreatedRuns);
    }

    public async Task<string> TriggerAsync(string functionId, object? payload, TriggerOptions? options, CancellationToken cancellationToken)
    {
        var runs = await BatchTriggerAsync(functionId, [payload], options, cancellationToken).ConfigureAwait(false);
        return runs[0];
    }

    /// <summary>Starts one run per payload, all in one transaction. Returns the run ids in payload order.</summary>
    public async Task<IReadOnlyList<string>> BatchTriggerAsync(string functionId, IReadOnlyList<object?> payloads, TriggerOptions? options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(functionId);
        ArgumentNullException.ThrowIfNull(payloads);
        if (payloads.Count == 0 || payloads.Count > Options.MaxBatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(payloads), payloads.Count,
                $"A batch needs 1 to {Options.MaxBatchSize} payloads (BatonOptions.MaxBatchSize); it has {payloads.Count}.");
        }

        if (options is not null)
        {
            ValidateTriggerOptions(options);
        }

        await EnsureStartedAsync().ConfigureAwait(false);
        await EnsureFunctionExistsAsync(functionId, cancellationToken).ConfigureAwait(false);
        var now = Time.GetUtcNow();
        var runs = await Task.WhenAll(payloads.Select(p => LargeValues.StoreInputAsync(NewRunFor(functionId, p, now, null, options), cancellationToken))).ConfigureAwait(false);
        var ids = await Storage.Runs.CreateAsync(runs, cancellationToken).ConfigureAwait(false);
        WorkAvailable.Set();
        return ids;
    }

    private static void ValidateTriggerOptions(TriggerOptions options)
    {
        var problems = new List<string>();
        if (options.Ttl is { } ttl && ttl <= TimeSpan.Zero)
        {
            problems.Add($"Ttl is {ttl}; it must be positive");
        }

        if (options.Delay is { } delay && delay < TimeSpan.Zero)
        {
            problems.Add($"Delay is {delay}; it must not be negative");
        }

        if (options.IdempotencyKey is { Length: 0 or > 256 })
        {
            problems.Add("IdempotencyKey must have 1 to 256 characters");
        }

        if (options.Queue is { } queue && !FunctionRegistry.IsValidQueueName(queue))
        {
            problems.Add($"Queue '{queue}' is not a valid queue name; use 1-64 letters, digits, '.', '_' or '-'");
        }

        if (options.Tags.Count > 10 || options.Tags.Any(t => string.IsNullOrWhiteSpace(t) || t.Length > 128))
        {
            problems.Add("Tags must be at most 10, each 1 to 128 characters");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid trigger options: " + string.Join("; ", problems) + ".", nameof(options));
        }
    }

    /// <exception cref="UnknownFunctionException">No node registered a function with this id.</exception>
    public async Task EnsureFunctionExistsAsync(string functionId, CancellationToken cancellationToken)
    {
        if (!Registry.TryGet(functionId, out _) && !await Storage.Functions.ExistsAsync(functionId, cancellationToken).ConfigureAwait(false))
        {
            var known = await Storage.Functions.ListAsync(cancellationToken).ConfigureAwait(false);
            throw new UnknownFunctionException(functionId, known.Select(f => f.Id).Union(Registry.Ids));
        }

        await PrepareRemoteFunctionsAsync([functionId], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A run of <paramref name="functionId"/> started by id: its input is a <c>baton/function.invoked</c> event.</summary>
    public NewRun NewRunFor(string functionId, object? payload, DateTimeOffset now, RunParent? parent, TriggerOptions? options = null)
    {
        var data = SerializePayload(payload, $"The payload for function '{functionId}'");
        var invoked = new EventRecord(Ids.New(Time), LifecycleEvents.FunctionInvoked, data, now, now);
        return NewRun(functionId, invoked, now, options) with { Parent = parent };
    }

    /// <summary>A run of a cron schedule for one slot: its input is a <c>baton/cron</c> event carrying a <see cref="CronTick"/>.</summary>
    public NewRun NewCronRun(ScheduleRecord schedule, DateTimeOffset slot, DateTimeOffset now)
    {
        var data = JsonSerializer.Serialize(new CronTick(schedule.Cron, schedule.TimeZone, slot, schedule.Id, schedule.ExternalId), Json);
        var tick = new EventRecord($"cron:{schedule.Id}:{slot.ToUnixTimeMilliseconds()}", LifecycleEvents.Cron, data, slot, now);
        return NewRun(schedule.FunctionId, tick, now);
    }

    /// <summary>
    /// Ends a run that has not ended (and its unfinished children) with <paramref name="status"/>, and stops its
    /// execution at once if this process runs it. Returns false when it had already ended.
    /// </summary>
    public async Task<bool> CancelAsync(string runId, RunStatus status, RunError reason, CancellationToken cancellationToken)
    {
        await EnsureStartedAsync().ConfigureAwait(false);
        var cancelled = await Storage.Runs.CancelAsync(runId, status, reason, Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (cancelled)
        {
            // Executions on other nodes find their lease gone at their next write or heartbeat.
            RunCancelled?.Invoke(runId);
            WorkAvailable.Set();
            Completions.Notify(runId);
        }

        return cancelled;
    }

    /// <summary>Raised when a run was cancelled through this process, so the local worker stops its execution at once.</summary>
    public event Action<string>? RunCancelled;

    /// <summary>
    /// The events a finished run emits, with the runs they start (failure handlers, lifecycle triggers). An event no
    /// function triggers on is not stored: the run's own record already holds its outcome.
    /// </summary>
    public async Task<IReadOnlyList<EventAppend>> LifecycleAppendsAsync(string functionId, string runId, RunStatus status, string? outputJson, RunError? error, JsonElement triggerEvent, DateTimeOffset now)
    {
        string[] names = status == RunStatus.Failed
            ? [LifecycleEvents.FunctionFailed, LifecycleEvents.FunctionFinished]
            : [LifecycleEvents.FunctionFinished];
        var routes = await LifecycleRoutesAsync(CancellationToken.None).ConfigureAwait(false);
        if (!names.Any(n => routes[n].Any() || Registry.Triggered(n).Any()))
        {
            return [];
        }

        var data = JsonSerializer.Serialize(new FunctionFinishedData
        {
            FunctionId = functionId,
            RunId = runId,
            Status = status.ToWireName(),
            Output = outputJson is null ? null : JsonDocument.Parse(outputJson).RootElement,
            Error = error,
            Event = triggerEvent,
        }, Json);
        var appends = await WithTriggeredRunsAsync([.. names.Select(name => new EventRecord($"{runId}:{name}", name, data, now, now))], now, CancellationToken.None, lifecycle: true).ConfigureAwait(false);
        return [.. appends.Where(a => a.Runs.Count > 0)];
    }

    /// <summary>
    /// Which registered functions trigger on lifecycle events, read at most every <see cref="LifecycleRoutesMaxAge"/>:
    /// every run's end emits one, and most have no subscriber, so the catalog is not read for each.
    /// </summary>
    private async Task<ILookup<string, string>> LifecycleRoutesAsync(CancellationToken cancellationToken)
    {
        var now = Time.GetUtcNow();
        if (_lifecycleRoutes is { } cached && now - cached.ReadAt < LifecycleRoutesMaxAge)
        {
            return cached.Routes;
        }

        var matches = await Storage.Functions.FindTriggeredAsync([LifecycleEvents.FunctionFinished, LifecycleEvents.FunctionFailed], cancellationToken).ConfigureAwait(false);
        var routes = matches.ToLookup(m => m.EventName, m => m.FunctionId, StringComparer.Ordinal);
        _lifecycleRoutes = new LifecycleRoutes(now, routes);
        return routes;
    }

    /// <summary>
    /// Pairs each event with the runs it starts: one per function registered (by any node) with a matching trigger whose
    /// condition accepts the event.
    /// </summary>
    private async Task<IReadOnlyList<EventAppend>> WithTriggeredRunsAsync(IReadOnlyList<EventRecord> records, DateTimeOffset now, CancellationToken cancellationToken, bool lifecycle = false)
    {
        ILookup<string, string> byName;
        Dictionary<(string EventName, string FunctionId), string>? conditions = null;
        if (lifecycle)
        {
            byName = await LifecycleRoutesAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var names = records.Select(r => r.Name).Distinct(StringComparer.Ordinal).ToList();
            var matches = await Storage.Functions.FindTriggeredAsync(names, cancellationToken).ConfigureAwait(false);
            byName = matches.ToLookup(m => m.EventName, m => m.FunctionId, StringComparer.Ordinal);
            conditions = matches.Where(m => m.Condition is not null).ToDictionary(m => (m.EventName, m.FunctionId), m => m.Condition!);
        }

        await PrepareRemoteFunctionsAsync(records.SelectMany(r => byName[r.Name]).Distinct(StringComparer.Ordinal), cancellationToken).ConfigureAwait(false);
        IReadOnlyList<EventAppend> appends = [.. records.Select(record =>
        {
            var functions = byName[record.Name].Union(Registry.Triggered(record.Name)).ToList();
            var data = functions.Any(NeedsData) ? JsonDocument.Parse(record.DataJson).RootElement : default;
            JsonElement? whole = null;
            bool Holds(string functionId)
            {
                var condition = Registry.TryGet(functionId, out var local)
                    ? local.TriggerConditions.GetValueOrDefault(record.Name)
                    : conditions?.GetValueOrDefault((record.Name, functionId));
                if (condition is null)
                {
                    return true;
                }

                whole ??= JsonDocument.Parse(EventJson.ToObject(record)).RootElement;
                return Expressions.CelExpression.Compile(condition, $"function '{functionId}': trigger '{record.Name}' (if)").IsTrue(whole.Value, default);
            }

            return new EventAppend(record, [.. functions.Where(f => Accepts(f, record.Name, data) && Holds(f)).Select(f => NewRun(f, record, now))]);
        })];
        return await LargeValues.StoreEventsAsync(appends, cancellationToken).ConfigureAwait(false);
    }

    private bool NeedsData(string functionId) =>
        functionId.EndsWith(FunctionRegistry.FailureHandlerSuffix, StringComparison.Ordinal)
        || (Registry.TryGet(functionId, out var local) && local.Filter is not null);

    private bool Accepts(string functionId, string eventName, JsonElement data)
    {
        if (Registry.TryGet(functionId, out var local))
        {
            return local.Accepts(eventName, data);
        }

        // A failure handler registered by another node handles only its own function's failures.
        return !functionId.EndsWith(FunctionRegistry.FailureHandlerSuffix, StringComparison.Ordinal)
            || (data.ValueKind == JsonValueKind.Object && data.TryGetProperty("functionId", out var fn)
                && fn.ValueEquals(functionId[..^FunctionRegistry.FailureHandlerSuffix.Length]));
    }

    private EventRecord ToRecord(BatonEvent @event, DateTimeOffset now)
    {
        if (@event is null)
        {
            throw new InvalidEventException("An event is null.");
        }

        if (!FunctionRegistry.IsValidEventName(@event.Name))
        {
            throw new InvalidEventException($"Event name '{@event.Name}' is invalid: give 1-256 characters with no control characters or surrounding spaces.");
        }

        if (LifecycleEvents.IsReserved(@event.Name))
        {
            throw new InvalidEventException($"Event name '{@event.Name}' uses the reserved prefix 'baton/'; Baton emits those events itself.");
        }

        if (@event.Id is { } id && (id.Length is 0 or > 256 || id.Any(char.IsControl)))
        {
            throw new InvalidEventException($"Event id '{id}' is invalid: give 1-256 characters with no control characters, or leave it null.");
        }

        var data = SerializePayload(@event.Data, $"Event '{@event.Name}'");
        var size = Encoding.UTF8.GetByteCount(data) + Encoding.UTF8.GetByteCount(@event.Name) + (@event.Id?.Length ?? 0);
        if (size > Options.MaxEventBytes)
        {
            throw new PayloadTooLargeException($"Event '{@event.Name}'", size, Options.MaxEventBytes);
        }

        return new EventRecord(@event.Id ?? Ids.New(Time), @event.Name, data, @event.Timestamp ?? now, now);
    }

    private NewRun NewRun(string functionId, EventRecord trigger, DateTimeOffset now, TriggerOptions? options = null)
    {
        var input = EventJson.ToInput(trigger);
        var run = new NewRun(Ids.New(Time), functionId, input, now, now, trigger.Name == LifecycleEvents.FunctionInvoked ? null : trigger.Id);
        return WithRules(run, options);
    }

    /// <summary>
    /// Applies the function's creation rules to a new run: its concurrency key, its priority (an earlier or later
    /// <see cref="NewRun.AvailableAt"/>), a delay, and its idempotency key. The rules come from the local definition, or
    /// from the catalog for a function only other nodes run (<see cref="PrepareRemoteFunctionsAsync"/>).
    /// </summary>
    public NewRun WithRules(NewRun run, TriggerOptions? options = null)
    {
        var rules = RulesFor(run.FunctionId);
        var available = run.AvailableAt;
        string? concurrencyKey = null, idempotencyKey = null, singletonKey = null, debounceKey = null, batchKey = null;
        var debounceUntil = DateTimeOffset.MaxValue;
        var idempotentUntil = run.CreatedAt;
        var rateRules = new List<RateRule>();
        if (rules.ConcurrencyKey is not null || rules.Priority is not null || rules.IdempotencyKey is not null || rules.Singleton is not null
            || rules.RateLimit is not null || rules.Throttle is not null || rules.Debounce is not null || rules.Batch is not null)
        {
            using var input = JsonDocument.Parse(run.InputJson);
            var trigger = input.RootElement[0];
            concurrencyKey = Evaluate(rules.ConcurrencyKey, "concurrency key", run.FunctionId, trigger);
            if (Evaluate(rules.Priority, "priority", run.FunctionId, trigger) is { } priority
                && double.TryParse(priority, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
            {
                available -= TimeSpan.FromSeconds(Math.Clamp(seconds, -MaxPrioritySeconds, MaxPrioritySeconds));
            }

            if (Evaluate(rules.IdempotencyKey, "idempotency key", run.FunctionId, trigger) is { } key)
            {
                (idempotencyKey, idempotentUntil) = ("fn:" + key, run.CreatedAt + rules.IdempotencyWindow);
            }

            // A singleton without a key is one for the whole function; a key that evaluates to nothing shares one bucket.
            if (rules.Singleton is { } singleton)
            {
                singletonKey = "s:" + (Evaluate(singleton.Key, "singleton key", run.FunctionId, trigger) ?? "");
            }

            if (rules.Debounce is { } debounce && run.EventId is not null)
            {
                debounceKey = "d:" + (Evaluate(debounce.Key, "debounce key", run.FunctionId, trigger) ?? "");
                available = run.CreatedAt + debounce.Period;
                debounceUntil = debounce.Timeout is { } cap ? run.CreatedAt + cap : DateTimeOffset.MaxValue;
            }

            // A batch of one is a plain run; otherwise the run opens a batch (or joins the open one) and is due when the
            // batch's timeout passes, or at once when the batch fills.
            if (rules.Batch is { MaxSize: > 1 } batch && run.EventId is not null)
            {
                batchKey = "b:" + (Evaluate(batch.Key, "batch key", run.FunctionId, trigger) ?? "");
                available = run.CreatedAt + batch.Timeout;
            }

            // Rate limits apply to runs started by events; throttles to every run.
            if (rules.RateLimit is { } rate && run.EventId is not null)
            {
                var interval = rate.Period / rate.Limit;
                rateRules.Add(new RateRule("rate:" + (Evaluate(rate.Key, "rate limit key", run.FunctionId, trigger) ?? ""), interval, rate.Period - interval, Drop: true));
            }

            if (rules.Throttle is { } throttle)
            {
                var interval = throttle.Period / throttle.Limit;
                rateRules.Add(new RateRule("throttle:" + (Evaluate(throttle.Key, "throttle key", run.FunctionId, trigger) ?? ""), interval, throttle.Period - interval + (interval * throttle.Burst), Drop: false));
            }
        }

        if (options?.Priority is { } explicitPriority)
        {
            available = run.AvailableAt - TimeSpan.FromSeconds(Math.Clamp(explicitPriority, -MaxPrioritySeconds, MaxPrioritySeconds));
        }

        if (options?.Delay is { } delay && delay > TimeSpan.Zero)
        {
            available = run.CreatedAt + delay;
        }

        if (options?.IdempotencyKey is { } explicitKey)
        {
            (idempotencyKey, idempotentUntil) = ("trigger:" + explicitKey, run.CreatedAt + options.IdempotencyWindow);
        }

        return run with
        {
            AvailableAt = available,
            ConcurrencyKey = concurrencyKey,
            IdempotencyKey = idempotencyKey,
            IdempotentUntil = idempotentUntil,
            SingletonKey = singletonKey,
            SingletonMode = rules.Singleton?.Mode ?? SingletonMode.Skip,
            RateRules = rateRules,
            DebounceKey = debounceKey,
            DebounceUntil = debounceUntil,
            BatchKey = batchKey,
            BatchMaxSize = rules.Batch?.MaxSize ?? 1,
            QueueName = options?.Queue ?? rules.Queue,
            StartBy = options?.Ttl is { } ttl ? (options.Delay is { } wait && wait > TimeSpan.Zero ? run.CreatedAt + wait : run.CreatedAt) + ttl : null,
            Tags = options is null ? [] : [.. options.Tags.Distinct(StringComparer.Ordinal)],
        };
    }

    /// <summary>How far a priority may move a run ahead or behind, in seconds (as Inngest documents).</summary>
    private const double MaxPrioritySeconds = 600;

    private static string? Evaluate(string? expression, string what, string functionId, JsonElement trigger) =>
        expression is null ? null : Expressions.CelExpression.Compile(expression, $"function '{functionId}': {what}").KeyFor(trigger);

    private CreationRules RulesFor(string functionId) =>
        Registry.TryGet(functionId, out var local)
            ? new CreationRules(local.KeyedConcurrency?.Key, local.Priority, local.Idempotency?.Key, local.Idempotency?.Window ?? TimeSpan.Zero, local.Singleton, local.RateLimit, local.Throttle, local.Debounce, local.Queue, local.Batch)
            : _remoteRules is { } remote && remote.Rules.TryGetValue(functionId, out var rules) ? rules : CreationRules.None;

    /// <summary>
    /// Makes sure the creation rules of functions not registered on this node are known (read from the catalog at most
    /// every <see cref="LifecycleRoutesMaxAge"/>, or at once for a function not seen yet).
    /// </summary>
    public async Task PrepareRemoteFunctionsAsync(IEnumerable<string> functionIds, CancellationToken cancellationToken)
    {
        var remote = functionIds.Where(f => !Registry.TryGet(f, out _)).ToList();
        var now = Time.GetUtcNow();
        if (remote.Count == 0 || (_remoteRules is { } cached && now - cached.ReadAt < LifecycleRoutesMaxAge && remote.All(cached.Rules.ContainsKey)))
        {
            return;
        }

        var registrations = await Storage.Functions.ListAsync(cancellationToken).ConfigureAwait(false);
        var rules = new Dictionary<string, CreationRules>(StringComparer.Ordinal);
        foreach (var registration in registrations)
        {
            rules[registration.Id] = CreationRules.FromDefinition(registration.DefinitionJson);
        }

        _remoteRules = new RemoteRules(now, rules);
    }

    private volatile RemoteRules? _remoteRules;

    private sealed record RemoteRules(DateTimeOffset ReadAt, Dictionary<string, CreationRules> Rules);

    private string SerializePayload(object? payload, string what)
    {
        try
        {
            var json = payload switch
            {
                null => "{}",
                JsonElement { ValueKind: JsonValueKind.Undefined } => "{}",
                JsonElement element => element.GetRawText(),
                _ => JsonSerializer.Serialize(payload, payload.GetType(), Json),
            };
            if (Encoding.UTF8.GetByteCount(json) > Options.MaxEventBytes)
            {
                throw new PayloadTooLargeException(what, Encoding.UTF8.GetByteCount(json), Options.MaxEventBytes);
            }

            if (LargeEventData.IsReserved(json))
            {
                throw new InvalidEventException($"{what}: its data is an object with the property \"\\u0001baton-large-value\", which Baton reserves for data it stores out of line.");
            }

            return json;
        }
        catch (Exception ex) when (ex is NotSupportedException or JsonException or InvalidOperationException)
        {
            throw new InvalidEventException($"{what}: its data of type {payload!.GetType().FullName} cannot be serialized to JSON: {ex.Message}", ex);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Baton node {NodeId} started with {FunctionCount} functions")]
    private static partial void LogStarted(ILogger logger, string nodeId, int functionCount);
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Baton.Storage;

namespace Baton.Engine;

/// <summary>The validated set of functions this node knows, indexed by id and by trigger.</summary>
internal sealed partial class FunctionRegistry
{
    public const string FailureHandlerSuffix = "/on-failure";
    private const int MaxNameLength = 256;

    /// <summary>The most events one batch run may get (Inngest's largest plan allows 500).</summary>
    public const int MaxEventBatch = 1000;

    private readonly Dictionary<string, FunctionDefinition> _byId;
    private readonly Dictionary<string, FunctionDefinition[]> _byTrigger;

    public FunctionRegistry(IEnumerable<FunctionDescriptor> descriptors)
    {
        var list = descriptors.ToList();
        var problems = new List<string>();
        foreach (var duplicate in list.GroupBy(d => d.Id, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Add($"function id '{duplicate.Key}' is registered {duplicate.Count()} times ({string.Join(", ", duplicate.Select(d => d.Source))}); give each function its own id");
        }

        var definitions = new List<FunctionDefinition>();
        foreach (var descriptor in list)
        {
            problems.AddRange(Validate(descriptor));
            if (descriptor.Invoker is null)
            {
                continue;
            }

            var options = descriptor.Options;
            var definition = new FunctionDefinition
            {
                Id = descriptor.Id,
                Name = options.Name ?? descriptor.Id,
                Triggers = [.. options.Triggers],
                Retry = options.RetryPolicy,
                Invoker = descriptor.Invoker,
                EventType = descriptor.EventType,
                CancelOn = [.. options.CancelOn],
                Schedules = [.. options.Schedules],
                TriggerConditions = new Dictionary<string, string>(options.TriggerConditions, StringComparer.Ordinal),
                Priority = options.Priority,
                Singleton = options.Singleton,
                RateLimit = options.RateLimit,
                Debounce = options.Debounce,
                Batch = options.Batch,
                Queue = options.Queue,
                Throttle = options.Throttle,
                Idempotency = options.Idempotency is { } idempotency ? (idempotency, options.IdempotencyWindow) : null,
                ConcurrencyLimit = options.Concurrency.FirstOrDefault(c => c?.Key is null)?.Limit,
                KeyedConcurrency = options.Concurrency.FirstOrDefault(c => c?.Key is not null) is { Key: { } key } keyed ? (keyed.Limit, key) : null,
                StartTimeout = options.Timeouts.Start,
                FinishTimeout = options.Timeouts.Finish,
            };
            definitions.Add(definition);
            if (options.OnFailure is { } onFailure)
            {
                definitions.Add(new FunctionDefinition
                {
                    Id = descriptor.Id + FailureHandlerSuffix,
                    Name = definition.Name + " (on failure)",
                    Triggers = [LifecycleEvents.FunctionFailed],
                    Retry = options.RetryPolicy,
                    Invoker = FunctionInvoker.ForFailureHandler(onFailure),
                    EventType = typeof(FunctionFinishedData),
                    Filter = data => data.ValueKind == JsonValueKind.Object
                        && data.TryGetProperty("functionId", out var fn)
                        && fn.ValueKind == JsonValueKind.String
                        && fn.ValueEquals(descriptor.Id),
                    ParentId = descriptor.Id,
                });
            }
        }

        if (problems.Count > 0)
        {
            throw new BatonConfigurationException(problems);
        }

        _byId = definitions.ToDictionary(d => d.Id, StringComparer.Ordinal);
        _byTrigger = definitions
            .SelectMany(d => d.Triggers.Distinct(StringComparer.Ordinal).Select(t => (Trigger: t, Definition: d)))
            .GroupBy(x => x.Trigger, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(x => x.Definition).ToArray(), StringComparer.Ordinal);
        Ids = [.. _byId.Keys];
    }

    public IReadOnlyCollection<string> Ids { get; }

    public IEnumerable<FunctionDefinition> All => _byId.Values;

    public bool TryGet(string id, out FunctionDefinition definition) => _byId.TryGetValue(id, out definition!);

    /// <summary>The ids of local functions with a trigger on <paramref name="eventName"/> (conditions not yet applied).</summary>
    public IEnumerable<string> Triggered(string eventName) =>
        _byTrigger.TryGetValue(eventName, out var candidates) ? candidates.Select(c => c.Id) : [];

    public IReadOnlyList<FunctionRegistration> ToRegistrations(DateTimeOffset now) =>
        [.. All.Select(d =>
        {
            var json = JsonSerializer.Serialize(new
            {
                id = d.Id,
                name = d.Name,
                triggers = d.Triggers,
                retries = d.Retry.Retries,
                backoff = d.Retry.Backoff.ToString(),
                parentId = d.ParentId,
                eventType = d.EventType.FullName,
                cancelOn = d.CancelOn.Select(c => new { @event = c.EventName, match = c.Match, @if = c.If }),
                conditions = d.TriggerConditions,
                priority = d.Priority,
                singleton = d.Singleton is { } singleton ? new { key = singleton.Key, mode = singleton.Mode.ToString() } : null,
                queue = d.Queue,
                debounce = d.Debounce is { } debounce ? new { period = debounce.Period.ToString(), key = debounce.Key, timeout = debounce.Timeout?.ToString() } : null,
                batch = d.Batch is { } batch ? new { maxSize = batch.MaxSize, timeout = batch.Timeout.ToString(), key = batch.Key } : null,
                rateLimit = d.RateLimit is { } rate ? new { limit = rate.Limit, period = rate.Period.ToString(), key = rate.Key } : null,
                throttle = d.Throttle is { } throttle ? new { limit = throttle.Limit, period = throttle.Period.ToString(), key = throttle.Key, burst = throttle.Burst } : null,
                idempotency = d.Idempotency is { } idem ? new { key = idem.Key, window = idem.Window.ToString() } : null,
                cron = d.Schedules.Select(c => new { expression = c.Expression, timeZone = c.TimeZone ?? "UTC", missed = c.Missed.ToString() }),
                concurrency = new { limit = d.ConcurrencyLimit, keyLimit = d.KeyedConcurrency?.Limit, key = d.KeyedConcurrency?.Key },
                timeouts = new { start = d.StartTimeout?.ToString(), finish = d.FinishTimeout?.ToString() },
            });
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)));
            return new FunctionRegistration(d.Id, d.Triggers, json, hash, now)
            {
                TriggerConditions = d.TriggerConditions,
                CancelRules = [.. d.CancelOn.Select(c => new CancelRule(c.EventName, c.Match, c.If))],
            };
        })];

    internal static bool IsValidEventName(string? name) =>
        !string.IsNullOrWhiteSpace(name) && name.Length <= MaxNameLength && !name.Any(char.IsControl) && name.Trim() == name;

    private static IEnumerable<string> Validate(FunctionDescriptor descriptor)
    {
        var id = descriptor.Id;
        var who = $"function '{id}'";
        if (string.IsNullOrEmpty(id) || !IdPattern().IsMatch(id))
        {
            yield return $"function id '{id}' ({descriptor.Source}) is invalid; use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit";
        }

        if (descriptor.Invoker is null)
        {
            yield return $"{who}: {descriptor.HandlerType?.FullName} implements neither IBatonFunction<TEvent> nor IBatonFunction<TEvent, TResult>";
        }

        var options = descriptor.Options;
        foreach (var trigger in options.Triggers)
        {
            if (!IsValidEventName(trigger))
            {
                yield return $"{who}: trigger '{trigger}' is not a valid event name (1-{MaxNameLength} characters, no control characters or surrounding spaces)";
            }
            else if (LifecycleEvents.IsReserved(trigger) && !LifecycleEvents.CanTriggerOn(trigger))
            {
                yield return $"{who}: trigger '{trigger}' uses the reserved prefix 'baton/'; only {LifecycleEvents.FunctionFinished} and {LifecycleEvents.FunctionFailed} can be triggered on";
            }
        }

        foreach (var duplicate in options.Triggers.GroupBy(t => t, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            yield return $"{who}: trigger '{duplicate.Key}' is listed {duplicate.Count()} times";
        }

        if (options.Name is { Length: > MaxNameLength })
        {
            yield return $"{who}: name is longer than {MaxNameLength} characters";
        }

        foreach (var problem in options.RetryPolicy.Validate(who))
        {
            yield return problem;
        }

        foreach (var rule in options.CancelOn)
        {
            if (rule is null || !IsValidEventName(rule.EventName))
            {
                yield return $"{who}: cancel rule event '{rule?.EventName}' is not a valid event name";
                continue;
            }

            if (rule.Match is { } match && !Storage.WaitMatching.IsValidMatchPath(match))
            {
                yield return $"{who}: cancel rule on '{rule.EventName}': match '{match}' is not a match path such as 'data.docId'";
            }

            if (rule.If is { } condition && CompileProblem(condition, $"{who}: cancel rule on '{rule.EventName}' (if)") is { } problem)
            {
                yield return problem;
            }
        }

        foreach (var (eventName, condition) in options.TriggerConditions)
        {
            if (!options.Triggers.Contains(eventName, StringComparer.Ordinal))
            {
                yield return $"{who}: the condition for '{eventName}' belongs to no trigger of the function";
            }
            else if (CompileProblem(condition, $"{who}: trigger '{eventName}' (if)") is { } conditionProblem)
            {
                yield return conditionProblem;
            }
        }

        foreach (var (name, limit, period, burst) in new[]
        {
            ("RateLimit", options.RateLimit?.Limit, options.RateLimit?.Period, 0),
            ("Throttle", options.Throttle?.Limit, options.Throttle?.Period, options.Throttle?.Burst ?? 0),
        })
        {
            if (limit is { } l && (l < 1 || period is not { } p || p < TimeSpan.FromSeconds(1) || burst < 0))
            {
                yield return $"{who}: {name} needs a limit of at least 1, a period of at least 1 second and no negative burst; it has limit {l}, period {period}, burst {burst}";
            }
        }

        if (!IsValidQueueName(options.Queue))
        {
            yield return $"{who}: queue '{options.Queue}' is not a valid queue name; use 1-64 letters, digits, '.', '_' or '-'";
        }

        if (options.Debounce is { } debounced && (debounced.Period < TimeSpan.FromMilliseconds(100) || debounced.Timeout is { } cap && cap < debounced.Period))
        {
            yield return $"{who}: Debounce needs a period of at least 100 ms and a timeout (if any) no shorter than the period; it has period {debounced.Period}, timeout {debounced.Timeout}";
        }

        if (options.Batch is { } batch)
        {
            if (batch.MaxSize < 1 || batch.MaxSize > MaxEventBatch || batch.Timeout < TimeSpan.FromMilliseconds(100) || batch.Timeout > TimeSpan.FromDays(1))
            {
                yield return $"{who}: BatchEvents needs a size of 1 to {MaxEventBatch} and a timeout of 100 ms to 1 day; it has size {batch.MaxSize}, timeout {batch.Timeout}";
            }

            var clashes = new (string Name, bool Set)[]
            {
                ("Debounce", options.Debounce is not null), ("Idempotency", options.Idempotency is not null), ("Singleton", options.Singleton is not null),
                ("RateLimit", options.RateLimit is not null), ("Throttle", options.Throttle is not null), ("Priority", options.Priority is not null),
                ("CancelOnEvent", options.CancelOn.Count > 0),
            }.Where(c => c.Set).Select(c => c.Name).ToList();
            if (clashes.Count > 0)
            {
                yield return $"{who}: BatchEvents cannot be combined with {string.Join(", ", clashes)}: each of those speaks of one event, and a batch run has many. Limit batch runs with LimitConcurrency instead";
            }
        }

        foreach (var (name, expression) in new[] { ("batch key", options.Batch?.Key), ("debounce key", options.Debounce?.Key), ("priority", options.Priority), ("idempotency key", options.Idempotency), ("singleton key", options.Singleton?.Key), ("rate limit key", options.RateLimit?.Key), ("throttle key", options.Throttle?.Key) })
        {
            if (expression is not null && CompileProblem(expression, $"{who}: {name}") is { } expressionProblem)
            {
                yield return expressionProblem;
            }
        }

        if (options.IdempotencyWindow <= TimeSpan.Zero)
        {
            yield return $"{who}: IdempotencyWindow is {options.IdempotencyWindow}; it must be positive";
        }

        foreach (var schedule in options.Schedules)
        {
            if (CronPlan.Problem(schedule) is { } cronProblem)
            {
                yield return $"{who}: {cronProblem}";
            }
        }

        if (options.Concurrency.Count > 2 || options.Concurrency.Count(c => c?.Key is null) > 1 || options.Concurrency.Count(c => c?.Key is not null) > 1)
        {
            yield return $"{who}: give at most two concurrency limits, one for the whole function and one per key; it has {options.Concurrency.Count}";
        }

        foreach (var limit in options.Concurrency)
        {
            if (limit is null || limit.Limit < 1)
            {
                yield return $"{who}: a concurrency limit is {limit?.Limit}; it must be at least 1";
            }
            else if (limit.Key is { } key && CompileProblem(key, $"{who}: concurrency key") is { } keyProblem)
            {
                yield return keyProblem;
            }
        }

        foreach (var (name, value) in new[] { ("Timeouts.Start", options.Timeouts.Start), ("Timeouts.Finish", options.Timeouts.Finish) })
        {
            if (value is { } t && t <= TimeSpan.Zero)
            {
                yield return $"{who}: {name} is {t}; it must be positive, or null for none";
            }
        }
    }

    private static string? CompileProblem(string expression, string what)
    {
        try
        {
            Expressions.CelExpression.Compile(expression, what);
            return null;
        }
        catch (BatonExpressionException ex)
        {
            return ex.Message;
        }
    }

    internal static bool IsValidQueueName(string? name) => name is not null && QueuePattern().IsMatch(name);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex QueuePattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex IdPattern();
}

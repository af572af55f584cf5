using System.Text.Json;
using Baton.Engine;
using Baton.Storage;

namespace Baton;

/// <summary>The in-process client: writes straight to storage and wakes the local worker.</summary>
internal sealed class BatonClient(BatonEngine engine) : IBatonClient
{
    public Task<SendResult> SendAsync(BatonEvent @event, CancellationToken cancellationToken = default) =>
        engine.SendAsync([@event], cancellationToken);

    public Task<SendResult> SendAsync(IEnumerable<BatonEvent> events, CancellationToken cancellationToken = default) =>
        engine.SendAsync(events, cancellationToken);

    public Task<string> TriggerAsync(string functionId, object? payload = null, CancellationToken cancellationToken = default) =>
        engine.TriggerAsync(functionId, payload, null, cancellationToken);

    public Task<string> TriggerAsync(string functionId, object? payload, TriggerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return engine.TriggerAsync(functionId, payload, options, cancellationToken);
    }

    public async Task<T?> TriggerAndWaitAsync<T>(string functionId, object? payload, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var runId = await engine.TriggerAsync(functionId, payload, null, cancellationToken).ConfigureAwait(false);
        var run = await WaitForRunAsync(runId, timeout, cancellationToken).ConfigureAwait(false);
        return run.Status == RunStatus.Completed ? run.GetOutput<T>(engine.Json) : throw new RunFailedException(run);
    }

    public Task<IReadOnlyList<string>> BatchTriggerAsync(string functionId, IEnumerable<object?> payloads, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        return engine.BatchTriggerAsync(functionId, [.. payloads], null, cancellationToken);
    }

    public async Task<bool> CancelAsync(string runId, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        var error = new RunError("Baton.RunCancelled", "Cancelled by a client" + (string.IsNullOrWhiteSpace(reason) ? "." : ": " + reason));
        if (await engine.CancelAsync(runId, RunStatus.Cancelled, error, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        return await engine.Storage.Runs.GetAsync(runId, cancellationToken).ConfigureAwait(false) is not null
            ? false
            : throw new KeyNotFoundException($"There is no run with id '{runId}'.");
    }

    public async Task<string> ReplayAsync(string runId, CancellationToken cancellationToken = default)
    {
        var run = await ReadRunAsync(runId, cancellationToken).ConfigureAwait(false);
        return await CreateRunLikeAsync(run, null, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string> RerunFromStepAsync(string runId, string stepId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stepId);
        var run = await ReadRunAsync(runId, cancellationToken).ConfigureAwait(false);
        var steps = await engine.Storage.Runs.GetStepsAsync(runId, cancellationToken).ConfigureAwait(false);
        var at = steps.ToList().FindIndex(s => s.Key == stepId);
        if (at < 0)
        {
            throw new KeyNotFoundException(
                $"Run '{runId}' has no step '{stepId}'. Its steps: {(steps.Count == 0 ? "none" : string.Join(", ", steps.Select(s => s.Key)))}.");
        }

        // Only what had completed before the step is kept; the step itself and everything after it run again.
        var newRunId = Ids.New(engine.Time);
        var now = engine.Time.GetUtcNow();
        var kept = new List<StepRecord>();
        foreach (var step in steps.Take(at).Select(s => SleepOver(s, now)).Where(s => s.Status == StepStatus.Completed))
        {
            // A wait's result refers to the run's copy of a large event's data: the rerun gets its own copy too.
            var output = await engine.LargeValues.CopyAsync(step.OutputJson, newRunId, cancellationToken).ConfigureAwait(false);
            if (step.Kind == StepKind.WaitForEvent && output is not null)
            {
                output = await engine.LargeValues.CopyEventsAsync(output, newRunId, cancellationToken).ConfigureAwait(false);
            }

            kept.Add(step with { OutputJson = output });
        }

        return await CreateRunLikeAsync(run, kept, cancellationToken, newRunId).ConfigureAwait(false);
    }

    private async Task<RunRecord> ReadRunAsync(string runId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        return await engine.Storage.Runs.GetAsync(runId, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"There is no run with id '{runId}'.");
    }

    private async Task<string> CreateRunLikeAsync(RunRecord run, IReadOnlyList<StepRecord>? journal, CancellationToken cancellationToken, string? newRunId = null)
    {
        var now = engine.Time.GetUtcNow();
        await engine.PrepareRemoteFunctionsAsync([run.FunctionId], cancellationToken).ConfigureAwait(false);
        // A replay is a new run on purpose: it keeps the concurrency key and priority, not the idempotency key.
        var id = newRunId ?? Ids.New(engine.Time);

        // Rules are evaluated on the events as sent; events with large data are stored again, for the new run.
        var input = await engine.LargeValues.ExpandEventsAsync(run.InputJson, cancellationToken).ConfigureAwait(false);
        var stored = await engine.LargeValues.CopyEventsAsync(run.InputJson, id, cancellationToken).ConfigureAwait(false);
        var copy = engine.WithRules(new NewRun(id, run.FunctionId, input, now, now, null, null, journal is { Count: > 0 } ? journal : null))
            with { IdempotencyKey = null, SingletonKey = null, StoredInputJson = stored == input ? null : stored };
        await engine.Storage.Runs.CreateAsync([copy], cancellationToken).ConfigureAwait(false);
        engine.WorkAvailable.Set();
        return copy.Id;
    }

    public Task PauseQueueAsync(string queue, CancellationToken cancellationToken = default) => SetPausedAsync(queue, true, cancellationToken);

    public Task ResumeQueueAsync(string queue, CancellationToken cancellationToken = default) => SetPausedAsync(queue, false, cancellationToken);

    private async Task SetPausedAsync(string queue, bool paused, CancellationToken cancellationToken)
    {
        if (!FunctionRegistry.IsValidQueueName(queue))
        {
            throw new ArgumentException($"'{queue}' is not a valid queue name; use 1-64 letters, digits, '.', '_' or '-'.", nameof(queue));
        }

        await engine.EnsureStartedAsync().ConfigureAwait(false);
        await engine.Storage.Queue.SetQueuePausedAsync(queue, paused, cancellationToken).ConfigureAwait(false);
        engine.WorkAvailable.Set();
    }

    public async Task<RunInfo?> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        var run = await engine.Storage.Runs.GetAsync(runId, cancellationToken).ConfigureAwait(false);
        if (run is null)
        {
            return null;
        }

        var steps = await engine.Storage.Runs.GetStepsAsync(runId, cancellationToken).ConfigureAwait(false);
        string? input = null;
        try
        {
            input = await engine.LargeValues.ExpandEventsAsync(run.InputJson, cancellationToken).ConfigureAwait(false);
        }
        catch (BatonException)
        {
            // A value deleted by history retention: the run is still shown, with its events' sizes.
        }

        var info = ToInfo(run, steps, engine.Time.GetUtcNow(), input);
        if (info.OutputBytes is not null)
        {
            try
            {
                info = info with { Output = ParseOrNull(await engine.LargeValues.ExpandAsync(run.OutputJson, cancellationToken).ConfigureAwait(false)), OutputBytes = null };
            }
            catch (BatonException)
            {
                // Deleted with the run that owned it (history retention): the run is still shown, with its output's size.
            }
        }

        if (!steps.Any(s => s.Kind is StepKind.WaitForEvent or StepKind.Invoke or StepKind.BatchInvoke))
        {
            return info;
        }

        // What waiting steps wait for, and which children invokes started: read only for runs that have such steps.
        var waits = run.Status.IsTerminal() ? [] : await engine.Storage.Runs.GetWaitsAsync(runId, cancellationToken).ConfigureAwait(false);
        var detailed = new List<StepInfo>(info.Steps.Count);
        foreach (var step in info.Steps)
        {
            var children = step.Kind is StepKind.Invoke or StepKind.BatchInvoke
                ? await engine.Storage.Runs.GetChildrenAsync(runId, step.Id, cancellationToken).ConfigureAwait(false)
                : [];
            var wait = step.Status == StepStatus.Waiting ? waits.FirstOrDefault(w => w.StepKey == step.Id && w.EventName is not null) : null;
            detailed.Add(children.Count == 0 && wait is null ? step : step with
            {
                WaitingFor = wait is null ? null : new EventWaitInfo(wait.EventName!, wait.MatchPath is null ? null : $"{wait.MatchPath} == {wait.MatchValueJson}", wait.Condition),
                ChildRunIds = [.. children.Select(c => c.RunId)],
            });
        }

        return info with { Steps = detailed };
    }

    public async Task<JsonElement?> GetStepOutputAsync(string runId, string stepId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentException.ThrowIfNullOrEmpty(stepId);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        var step = (await engine.Storage.Runs.GetStepsAsync(runId, cancellationToken).ConfigureAwait(false)).FirstOrDefault(s => s.Key == stepId)
            ?? throw new KeyNotFoundException($"Run '{runId}' has no step '{stepId}'.");
        var output = await engine.LargeValues.ExpandAsync(step.OutputJson, cancellationToken).ConfigureAwait(false);
        return ParseOrNull(step.Kind == StepKind.WaitForEvent && output is not null
            ? await engine.LargeValues.ExpandEventsAsync(output, cancellationToken).ConfigureAwait(false)
            : output);
    }

    public async Task<RunInfo> WaitForRunAsync(string runId, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        if (timeout < TimeSpan.Zero && timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must not be negative (or Timeout.InfiniteTimeSpan).");
        }

        var now = engine.Time.GetUtcNow();
        var deadline = timeout == System.Threading.Timeout.InfiniteTimeSpan || timeout >= DateTimeOffset.MaxValue - now
            ? DateTimeOffset.MaxValue
            : now + timeout;
        while (true)
        {
            var completion = engine.Completions.WaitAsync(runId);
            try
            {
                var run = await GetRunAsync(runId, cancellationToken).ConfigureAwait(false)
                    ?? throw new KeyNotFoundException($"There is no run with id '{runId}'.");
                if (run.Status.IsTerminal())
                {
                    return run;
                }

                var remaining = deadline - engine.Time.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                {
                    throw new TimeoutException($"Run '{runId}' did not end within {timeout}; it is {run.Status.ToWireName()}.");
                }

                // Runs executed by this process signal their end; runs elsewhere are polled.
                var poll = remaining < engine.Options.PollInterval ? remaining : engine.Options.PollInterval;
                await Task.WhenAny(completion, Task.Delay(poll, engine.Time, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }
            finally
            {
                engine.Completions.Forget(runId, completion);
            }
        }
    }

    /// <remarks>
    /// A sleep whose due time has passed is reported as completed then: the engine writes nothing when it wakes.
    /// </remarks>
    /// <para>Events whose data is stored out of line show <c>"data": null</c> and their <c>"dataBytes"</c>, unless
    /// <paramref name="inputJson"/> gives the input with the data read back.</para>
    private static RunInfo ToInfo(RunRecord run, IReadOnlyList<StepRecord> steps, DateTimeOffset now, string? inputJson = null)
    {
        using var input = JsonDocument.Parse(inputJson ?? LargeEventData.Rewrite(run.InputJson, (_, _) => null));
        return new RunInfo
        {
            Id = run.Id,
            FunctionId = run.FunctionId,
            Status = run.Status,
            Event = input.RootElement[0].Clone(),
            Events = [.. input.RootElement.EnumerateArray().Select(e => e.Clone())],
            Output = LargeValues.TryParse(run.OutputJson, out _, out _) ? null : ParseOrNull(run.OutputJson),
            OutputBytes = LargeValues.TryParse(run.OutputJson, out _, out var outputBytes) ? outputBytes : null,
            Error = run.Error,
            Attempt = run.StartedAt is null ? 0 : run.Attempt + 1,
            CreatedAt = run.CreatedAt,
            StartedAt = run.StartedAt,
            EndedAt = run.EndedAt,
            Tags = run.Tags,
            Progress = run.ProgressJson is { } progress ? JsonSerializer.Deserialize<RunProgress>(progress, JsonSerializerOptions.Web) : null,
            Metadata = ParseOrNull(run.MetadataJson),
            Steps = [.. steps.Select(s => SleepOver(s, now)).Select(s => new StepInfo
            {
                Id = s.Key,
                Kind = s.Kind,
                Status = s.Status,
                Attempts = s.Attempts,
                Output = OutOfLineBytes(s) is null ? ParseOrNull(s.OutputJson) : null,
                OutputBytes = OutOfLineBytes(s),
                Error = s.Error,
                StartedAt = s.StartedAt,
                EndedAt = s.EndedAt,
                WakeAt = s.WakeAt,
            })],
        };
    }

    /// <summary>
    /// The size of a step's result stored out of line, or null when it is inline: a large value, or the event a wait
    /// received when that event's data is large.
    /// </summary>
    private static long? OutOfLineBytes(StepRecord step) =>
        LargeValues.TryParse(step.OutputJson, out _, out var bytes) ? bytes
        : step.Kind == StepKind.WaitForEvent && LargeEventData.MayRefer(step.OutputJson) && LargeEventData.References(step.OutputJson!) is [var (_, data)] ? data
        : null;

    /// <summary>A persisted sleep whose due time has passed, as the completed step it is.</summary>
    private static StepRecord SleepOver(StepRecord step, DateTimeOffset now) =>
        step is { Kind: StepKind.Sleep, Status: StepStatus.Waiting, WakeAt: { } due } && due <= now
            ? step with { Status = StepStatus.Completed, EndedAt = due }
            : step;

    private static JsonElement? ParseOrNull(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    public async Task<ScheduleInfo> CreateScheduleAsync(string functionId, string cron, ScheduleOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(functionId);
        options ??= new ScheduleOptions();
        var zone = ValidateSchedule(cron, options);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        await engine.EnsureFunctionExistsAsync(functionId, cancellationToken).ConfigureAwait(false);
        var now = engine.Time.GetUtcNow();
        var stored = await engine.Storage.Schedules.CreateAsync(
            new ScheduleRecord(Ids.New(engine.Time), functionId, cron, zone, options.Missed, CronPlan.Next(cron, zone, now))
            {
                FromCode = false,
                ExternalId = options.ExternalId,
                DeduplicationKey = options.DeduplicationKey,
                CreatedAt = now,
            },
            cancellationToken).ConfigureAwait(false);
        engine.SchedulesChanged.Set();
        return ToInfo(stored);
    }

    public async Task<ScheduleInfo?> GetScheduleAsync(string scheduleId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheduleId);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        return await engine.Storage.Schedules.GetAsync(scheduleId, cancellationToken).ConfigureAwait(false) is { } schedule ? ToInfo(schedule) : null;
    }

    public async Task<IReadOnlyList<ScheduleInfo>> ListSchedulesAsync(string? functionId = null, string? externalId = null, string? afterId = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 1000);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        return [.. (await engine.Storage.Schedules.ListAsync(functionId, externalId, afterId, limit, cancellationToken).ConfigureAwait(false)).Select(ToInfo)];
    }

    public async Task<ScheduleInfo> UpdateScheduleAsync(string scheduleId, string cron, ScheduleOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ScheduleOptions();
        var zone = ValidateSchedule(cron, options);
        var existing = await ReadClientScheduleAsync(scheduleId, "changed", cancellationToken).ConfigureAwait(false);
        if (options.DeduplicationKey is { } key && key != existing.DeduplicationKey)
        {
            throw new ArgumentException($"The deduplication key of schedule '{scheduleId}' cannot change (it is '{existing.DeduplicationKey}').", nameof(options));
        }

        var changed = existing with { Cron = cron, TimeZone = zone, Missed = options.Missed, ExternalId = options.ExternalId, NextAt = CronPlan.Next(cron, zone, engine.Time.GetUtcNow()) };
        if (!await engine.Storage.Schedules.UpdateAsync(changed, cancellationToken).ConfigureAwait(false))
        {
            throw new KeyNotFoundException($"There is no schedule with id '{scheduleId}'.");
        }

        engine.SchedulesChanged.Set();
        return ToInfo((await engine.Storage.Schedules.GetAsync(scheduleId, cancellationToken).ConfigureAwait(false))!);
    }

    public Task PauseScheduleAsync(string scheduleId, CancellationToken cancellationToken = default) => SetSchedulePausedAsync(scheduleId, true, cancellationToken);

    public Task ResumeScheduleAsync(string scheduleId, CancellationToken cancellationToken = default) => SetSchedulePausedAsync(scheduleId, false, cancellationToken);

    public async Task<bool> DeleteScheduleAsync(string scheduleId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheduleId);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        if (await engine.Storage.Schedules.GetAsync(scheduleId, cancellationToken).ConfigureAwait(false) is { FromCode: true })
        {
            throw CodeSchedule(scheduleId, "deleted");
        }

        return await engine.Storage.Schedules.DeleteAsync(scheduleId, cancellationToken).ConfigureAwait(false);
    }

    private async Task SetSchedulePausedAsync(string scheduleId, bool paused, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheduleId);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        var schedule = await engine.Storage.Schedules.GetAsync(scheduleId, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"There is no schedule with id '{scheduleId}'.");

        // Resuming starts from the next slot after now: slots that passed while paused are not fired.
        var nextAt = paused ? schedule.NextAt : CronPlan.Next(schedule.Cron, schedule.TimeZone, engine.Time.GetUtcNow());
        if (!await engine.Storage.Schedules.SetPausedAsync(scheduleId, paused, nextAt, cancellationToken).ConfigureAwait(false))
        {
            throw new KeyNotFoundException($"There is no schedule with id '{scheduleId}'.");
        }

        engine.SchedulesChanged.Set();
    }

    private async Task<ScheduleRecord> ReadClientScheduleAsync(string scheduleId, string what, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheduleId);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        var schedule = await engine.Storage.Schedules.GetAsync(scheduleId, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"There is no schedule with id '{scheduleId}'.");
        return schedule.FromCode ? throw CodeSchedule(scheduleId, what) : schedule;
    }

    private static InvalidOperationException CodeSchedule(string scheduleId, string what) =>
        new($"Schedule '{scheduleId}' is declared in code (TriggerOnCron); it is {what} by changing the code, not through the client. It can be paused.");

    /// <summary>Checks a schedule's expression and options; returns its time zone ("UTC" when none is given).</summary>
    private static string ValidateSchedule(string cron, ScheduleOptions options)
    {
        var zone = string.IsNullOrEmpty(options.TimeZone) ? "UTC" : options.TimeZone;
        var problems = new List<string>();
        if (CronPlan.Problem(new CronSchedule(cron, zone, options.Missed)) is { } problem)
        {
            problems.Add(problem);
        }

        if (options.DeduplicationKey is { } key && (key.Length is 0 or > 256))
        {
            problems.Add("the deduplication key must be 1 to 256 characters");
        }

        if (options.ExternalId is { } external && (external.Length is 0 or > 256))
        {
            problems.Add("the external id must be 1 to 256 characters");
        }

        if (!Enum.IsDefined(options.Missed))
        {
            problems.Add($"missed-slot policy {(int)options.Missed} is not one of {string.Join(", ", Enum.GetNames<MissedSlots>())}");
        }

        return problems.Count == 0 ? zone : throw new ArgumentException("Invalid schedule: " + string.Join("; ", problems) + ".", nameof(cron));
    }

    private static ScheduleInfo ToInfo(ScheduleRecord schedule) =>
        new(schedule.Id, schedule.FunctionId, schedule.Cron, schedule.TimeZone, schedule.NextAt)
        {
            FromCode = schedule.FromCode,
            ExternalId = schedule.ExternalId,
            DeduplicationKey = schedule.DeduplicationKey,
            Paused = schedule.Paused,
            Missed = schedule.Missed,
            CreatedAt = schedule.CreatedAt,
        };

    public async Task<RunPage> ListRunsAsync(RunQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Limit is < 1 or > 1000)
        {
            throw new ArgumentException($"The limit is {query.Limit}; give 1 to 1000.", nameof(query));
        }

        var (afterAt, afterId) = query.Cursor is null ? (null, null) : RunCursor.Parse(query.Cursor);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        var runs = await engine.Storage.Runs.ListAsync(
            new RunFilter(query.FunctionId, query.Status, query.Tag, query.EventId, query.From, query.To, afterAt, afterId, query.Limit + 1),
            cancellationToken).ConfigureAwait(false);
        var now = engine.Time.GetUtcNow();
        var page = runs.Take(query.Limit).Select(r => ToInfo(r, [], now)).ToList();
        return new RunPage(page, runs.Count > query.Limit ? RunCursor.After(page[^1].CreatedAt, page[^1].Id) : null);
    }

    public async Task<IReadOnlyDictionary<RunStatus, long>> CountRunsAsync(RunQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        return await engine.Storage.Runs.CountAsync(
            new RunFilter(query.FunctionId, null, query.Tag, query.EventId, query.From, query.To, null, null, 0), cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<QueueInfo>> ListQueuesAsync(CancellationToken cancellationToken = default)
    {
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        var queues = await engine.Storage.Queue.ListQueuesAsync(engine.Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        return [.. queues.Select(q => new QueueInfo(q.Name, q.Ready, q.Running, q.Later, q.Paused))];
    }

    public async Task<IReadOnlyList<FunctionInfo>> ListFunctionsAsync(CancellationToken cancellationToken = default)
    {
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        var functions = await engine.Storage.Functions.ListAsync(cancellationToken).ConfigureAwait(false);
        return [.. functions.OrderBy(f => f.Id, StringComparer.Ordinal).Select(f =>
        {
            using var definition = JsonDocument.Parse(f.DefinitionJson);
            return new FunctionInfo(f.Id, f.Triggers, definition.RootElement.Clone(), f.UpdatedAt);
        })];
    }

    public async Task<EventInfo?> GetEventAsync(string eventId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventId);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        if (await engine.Storage.Events.GetAsync(eventId, cancellationToken).ConfigureAwait(false) is not { } record)
        {
            return null;
        }

        var info = (await ToInfoAsync([record], cancellationToken).ConfigureAwait(false))[0];
        if (LargeEventData.TryParse(record.DataJson, out var id, out _))
        {
            try
            {
                using var data = JsonDocument.Parse(await engine.LargeValues.ReadAsync(id, cancellationToken).ConfigureAwait(false));
                info = info with { Data = data.RootElement.Clone() };
            }
            catch (BatonException)
            {
                // Deleted by history retention ahead of its event: shown with its size.
            }
        }

        return info;
    }

    public async Task<EventPage> ListEventsAsync(string? name = null, int limit = 50, string? cursor = null, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 1000)
        {
            throw new ArgumentException($"The limit is {limit}; give 1 to 1000.", nameof(limit));
        }

        var (afterAt, afterId) = cursor is null ? (null, null) : RunCursor.Parse(cursor);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        var records = await engine.Storage.Events.ListAsync(name, afterAt, afterId, limit + 1, cancellationToken).ConfigureAwait(false);
        var page = await ToInfoAsync([.. records.Take(limit)], cancellationToken).ConfigureAwait(false);
        return new EventPage(page, records.Count > limit ? RunCursor.After(page[^1].ReceivedAt, page[^1].Id) : null);
    }

    /// <summary>Events with what each did: the runs it started and, for the functions it started none of, why (two queries per page).</summary>
    private async Task<IReadOnlyList<EventInfo>> ToInfoAsync(IReadOnlyList<EventRecord> records, CancellationToken cancellationToken)
    {
        if (records.Count == 0)
        {
            return [];
        }

        var outcomes = (await engine.Storage.Events.GetOutcomesAsync([.. records.Select(r => r.Id)], cancellationToken).ConfigureAwait(false))
            .ToLookup(o => o.EventId, StringComparer.Ordinal);
        var triggers = (await engine.Storage.Functions.FindTriggeredAsync([.. records.Select(r => r.Name).Distinct(StringComparer.Ordinal)], cancellationToken).ConfigureAwait(false))
            .ToLookup(t => t.EventName, StringComparer.Ordinal);
        return [.. records.Select(record =>
        {
            var done = outcomes[record.Id].ToList();
            var skipped = done.Where(o => o.SkipReason is not null).Select(o => new SkippedRunInfo(o.FunctionId, o.SkipReason!)).ToList();

            // A trigger's condition that was false leaves no record: a conditional trigger with no outcome filtered the event out.
            skipped.AddRange(triggers[record.Name]
                .Where(t => t.Condition is not null && !done.Any(o => o.FunctionId == t.FunctionId))
                .Select(t => new SkippedRunInfo(t.FunctionId, "filtered")));
            var runs = done.Where(o => o.RunId is not null).Select(o => new EventRunInfo(o.RunId!, o.FunctionId, o.Status!.Value)).ToList();
            var large = LargeEventData.TryParse(record.DataJson, out _, out var bytes);
            using var data = JsonDocument.Parse(large ? "null" : record.DataJson);
            return new EventInfo(record.Id, record.Name, data.RootElement.Clone(), record.Timestamp, record.ReceivedAt, [.. runs.Select(r => r.RunId)])
            {
                Runs = runs,
                Skipped = skipped,
                DataBytes = large ? bytes : null,
            };
        })];
    }
}

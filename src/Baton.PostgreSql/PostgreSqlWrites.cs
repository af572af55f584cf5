using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

/// <summary>Statements shared by several stores. Each is one statement, so it travels in the writer's batch.</summary>
internal static class PostgreSqlWrites
{
    /// <summary>
    /// Inserts events and, for each event that is new, its runs, in one statement. Returns the ids of the new events.
    /// <paramref name="condition"/> (a SQL boolean over the statement's earlier CTEs) gates every insert.
    /// </summary>
    /// <remarks>
    /// With <c>eventsInserted</c>, the events were inserted by an earlier statement (<see cref="InsertEvents"/>) and are
    /// all new: only their runs are created.
    /// </remarks>
    public static PgCommand AppendEvents(string s, IReadOnlyList<EventAppend> appends, string prefix = "", string condition = "true", string result = "SELECT 'e', id FROM new_events UNION ALL SELECT 'r', run_id FROM inserted_queue", bool eventsInserted = false)
    {
        var runs = appends.SelectMany(a => a.Runs.Select(r => (a.Event.Id, Run: r))).ToList();
        var newEvents = eventsInserted
            ? "SELECT unnest(@event_ids) AS id"
            : $"""
                INSERT INTO {s}.events (id, name, data, ts, received_at)
                SELECT * FROM unnest(@event_ids, @event_names, @event_data, @event_ts, @event_received)
                WHERE {condition}
                ON CONFLICT (id) DO NOTHING
                RETURNING id
                """;
        var sql = $"""
            {(prefix.Length == 0 ? "WITH" : prefix + ",")}
            new_events AS (
                {newEvents}),
            candidate_runs AS (
                SELECT *, 0::bigint AS token, NULL::bigint AS start_by FROM unnest(@run_ids, @run_functions, @run_inputs, @run_triggers, @run_events, @run_keys, @run_created, @run_available, @run_concurrency, @run_idem_keys, @run_idem_until, @run_singletons, @run_debounce_keys, @run_debounce_until, @run_queues)
                    WITH ORDINALITY AS t(id, function_id, input, trigger, event_id, event_key, created_at, available_at, concurrency_key, idem_key, idem_until, singleton_key, debounce_key, debounce_until, queue_name, ord)
                WHERE t.event_key IN (SELECT id FROM new_events)),
            {ClaimIdempotency(s, "candidate_runs")},
            candidate_queue AS (
                SELECT * FROM candidate_runs WHERE idem_key IS NULL OR id IN (SELECT run_id FROM idempotent)),
            inserted_queue AS (
                {InsertQueue(s, "candidate_queue")}),
            new_runs AS (
                SELECT * FROM candidate_queue WHERE id IN (SELECT run_id FROM inserted_queue)),
            inserted_runs AS (
                INSERT INTO {s}.runs (id, function_id, status, input, attempt, event_id, created_at)
                SELECT id, function_id, 0, input, 0, event_id, created_at FROM new_runs),
            skipped AS (
                INSERT INTO {s}.skipped_runs (event_id, function_id, reason, created_at)
                SELECT event_id, function_id,
                    CASE WHEN idem_key IS NOT NULL AND id NOT IN (SELECT run_id FROM idempotent) THEN 'idempotency' ELSE 'singleton' END,
                    created_at
                FROM candidate_runs WHERE event_id IS NOT NULL AND id NOT IN (SELECT run_id FROM inserted_queue)),
            {CancelWaits(s, "new_runs")}
            {result}
            """;
        return new PgCommand(sql, returnsRows: true)
            .With("event_ids", appends.Select(a => a.Event.Id).ToArray())
            .With("event_names", appends.Select(a => a.Event.Name).ToArray())
            .With("event_data", appends.Select(a => a.Event.StoredData).ToArray())
            .With("event_ts", appends.Select(a => Ms(a.Event.Timestamp)).ToArray())
            .With("event_received", appends.Select(a => Ms(a.Event.ReceivedAt)).ToArray())
            .With("run_ids", runs.Select(r => r.Run.Id).ToArray())
            .With("run_functions", runs.Select(r => r.Run.FunctionId).ToArray())
            .With("run_inputs", runs.Select(r => r.Run.StoredInput).ToArray())
            .With("run_triggers", runs.Select(r => TriggerData(r.Run)).ToArray())
            .With("run_events", runs.Select(r => r.Run.EventId).ToArray())
            .With("run_keys", runs.Select(r => r.Id).ToArray())
            .With("run_created", runs.Select(r => Ms(r.Run.CreatedAt)).ToArray())
            .With("run_available", runs.Select(r => Ms(r.Run.AvailableAt)).ToArray())
            .With("run_concurrency", runs.Select(r => r.Run.ConcurrencyKey).ToArray())
            .With("run_idem_keys", runs.Select(r => r.Run.IdempotencyKey).ToArray())
            .With("run_idem_until", runs.Select(r => Ms(r.Run.IdempotentUntil)).ToArray())
            .With("run_singletons", runs.Select(r => r.Run.SingletonKey).ToArray())
            .With("run_debounce_keys", runs.Select(r => r.Run.DebounceKey).ToArray())
            .With("run_queues", runs.Select(r => r.Run.QueueName).ToArray())
            .With("run_debounce_until", runs.Select(r => r.Run.DebounceKey is null ? (long?)null : Ms(r.Run.DebounceUntil)).ToArray())
            .With("idem_now", runs.Count == 0 ? 0L : runs.Min(r => Ms(r.Run.CreatedAt)));
    }

    /// <summary>
    /// Enqueues the runs of <paramref name="runs"/> (with id, function_id, available_at, token, concurrency_key,
    /// singleton_key, debounce_key, debounce_until), returning the ids enqueued. A singleton (or pending debounce) key
    /// already held by a run of the function is refused by its unique index, so two nodes can never both create the run;
    /// the run is then not created.
    /// </summary>
    private static string InsertQueue(string s, string runs) => $"""
        INSERT INTO {s}.queue (run_id, function_id, available_at, owner, token, concurrency_key, singleton_key, debounce_key, debounce_until, queue_name, start_by)
        SELECT id, function_id, available_at, NULL, token, concurrency_key, singleton_key, debounce_key, debounce_until, queue_name, start_by FROM {runs}
        ON CONFLICT DO NOTHING
        RETURNING run_id
        """;

    /// <summary>
    /// A CTE <c>idempotent(run_id)</c>: the runs of <paramref name="candidates"/> (with function_id, idem_key, id,
    /// idem_until, ord) that took their idempotency key, because no run holds it beyond <c>@idem_now</c> (their creation).
    /// Of several candidates with one key, the first (by <c>ord</c>) tries: one statement cannot claim a key twice.
    /// </summary>
    private static string ClaimIdempotency(string s, string candidates) => $"""
        idempotent AS (
            INSERT INTO {s}.idempotency (function_id, key, run_id, expires_at)
            SELECT DISTINCT ON (function_id, idem_key) function_id, idem_key, id, idem_until FROM {candidates}
            WHERE idem_key IS NOT NULL ORDER BY function_id, idem_key, ord
            ON CONFLICT (function_id, key) DO UPDATE SET run_id = excluded.run_id, expires_at = excluded.expires_at
            WHERE {s}.idempotency.expires_at <= @idem_now
            RETURNING run_id)
        """;

    /// <summary>Which appends were new: an id returned by the statement, at its first occurrence in the call.</summary>
    public static bool[] Accepted(IReadOnlyList<EventAppend> appends, PgResult result)
    {
        var inserted = result.Rows.Where(r => (string)r[0]! == "e").Select(r => (string)r[1]!).ToHashSet(StringComparer.Ordinal);
        return [.. appends.Select(a => inserted.Remove(a.Event.Id))];
    }

    /// <summary>The runs the append created (rows of kind 'r' of its default result).</summary>
    public static string[] CreatedRuns(PgResult result) => [.. result.Rows.Where(r => (string)r[0]! == "r").Select(r => (string)r[1]!)];

    /// <summary>
    /// Creates runs. Returns one row per run in order: the run's id, or, when its idempotency key is held beyond its
    /// creation, the id of the run that holds it (nothing is created for it then).
    /// </summary>
    public static PgCommand InsertRuns(string s, IReadOnlyList<NewRun> runs)
    {
        var seen = new HashSet<(string, string)>();
        var first = runs.Select(r => r.IdempotencyKey is not { } key || seen.Add((r.FunctionId, key))).ToArray();
        return new PgCommand($"""
                WITH given AS (
                    SELECT *, NULL::text AS debounce_key, NULL::bigint AS debounce_until
                    FROM unnest(@ids, @functions, @inputs, @triggers, @events, @created, @available, @parents, @steps, @indexes, @tokens, @concurrency, @idem_keys, @idem_until, @first, @singletons, @queues, @start_by, @tags)
                        WITH ORDINALITY AS t(id, function_id, input, trigger, event_id, created_at, available_at, parent_run_id, parent_step, parent_index, token, concurrency_key, idem_key, idem_until, first, singleton_key, queue_name, start_by, tags, ord)),
                candidates AS (SELECT * FROM given WHERE first),
                {ClaimIdempotency(s, "candidates")},
                to_queue AS (SELECT * FROM candidates WHERE idem_key IS NULL OR id IN (SELECT run_id FROM idempotent)),
                queued AS ({InsertQueue(s, "to_queue")}),
                new AS (SELECT * FROM to_queue WHERE id IN (SELECT run_id FROM queued)),
                inserted AS (
                    INSERT INTO {s}.runs (id, function_id, status, input, attempt, event_id, created_at, parent_run_id, parent_step, parent_index, tags)
                    SELECT id, function_id, 0, input, 0, event_id, created_at, parent_run_id, parent_step, parent_index, tags FROM new),
                {CancelWaits(s, "new")}
                SELECT CASE
                    WHEN g.id IN (SELECT id FROM new) THEN g.id
                    ELSE COALESCE(
                        (SELECT i.run_id FROM {s}.idempotency i WHERE i.function_id = g.function_id AND i.key = g.idem_key),
                        (SELECT c.id FROM candidates c WHERE c.function_id = g.function_id AND c.idem_key = g.idem_key),
                        (SELECT q.run_id FROM {s}.queue q WHERE q.function_id = g.function_id AND q.singleton_key = g.singleton_key))
                    END
                FROM given g ORDER BY g.ord
                """, returnsRows: true)
            .With("ids", runs.Select(r => r.Id).ToArray())
            .With("functions", runs.Select(r => r.FunctionId).ToArray())
            .With("inputs", runs.Select(r => r.StoredInput).ToArray())
            .With("triggers", runs.Select(TriggerData).ToArray())
            .With("events", runs.Select(r => r.EventId).ToArray())
            .With("created", runs.Select(r => Ms(r.CreatedAt)).ToArray())
            .With("available", runs.Select(r => Ms(r.AvailableAt)).ToArray())
            .With("parents", runs.Select(r => r.Parent?.RunId).ToArray())
            .With("steps", runs.Select(r => r.Parent?.StepKey).ToArray())
            .With("indexes", runs.Select(r => r.Parent?.Index).ToArray())

            // The first claim makes the token 1, which tells the worker there is no journal to read; a run that starts
            // with a journal (re-run from a step) starts at 1, so its first claim reads it.
            .With("tokens", runs.Select(r => r.Journal is { Count: > 0 } ? 1L : 0L).ToArray())
            .With("concurrency", runs.Select(r => r.ConcurrencyKey).ToArray())
            .With("idem_keys", runs.Select(r => r.IdempotencyKey).ToArray())
            .With("idem_until", runs.Select(r => Ms(r.IdempotentUntil)).ToArray())
            .With("first", first)
            .With("singletons", runs.Select(r => r.SingletonKey).ToArray())
            .With("queues", runs.Select(r => r.QueueName).ToArray())
            .With("start_by", runs.Select(r => MsOrNull(r.StartBy)).ToArray())
            .With("tags", runs.Select(r => r.Tags.Count == 0 ? null : System.Text.Json.JsonSerializer.Serialize(r.Tags)).ToArray())
            .With("idem_now", runs.Count == 0 ? 0L : runs.Min(r => Ms(r.CreatedAt)));
    }

    /// <summary>
    /// A round that applies the runs' rate rules (GCRA, one statement per rule, in order, so runs of one key see each
    /// other): <paramref name="then"/> gets, per run with rules, null when a rate limit dropped it, else the earliest time
    /// its throttles let it start. Null when no run has rules.
    /// </summary>
    public static PgRound<T>? ApplyRates<T>(string s, IReadOnlyList<NewRun> runs, Func<IReadOnlyDictionary<string, DateTimeOffset?>, PgNext<T>> then)
    {
        var rated = runs.Where(r => r.RateRules.Count > 0).ToList();
        if (rated.Count == 0)
        {
            return null;
        }

        var commands = new List<PgCommand>();
        var owners = new List<(NewRun Run, RateRule Rule)>();
        foreach (var run in rated)
        {
            foreach (var rule in run.RateRules)
            {
                commands.Add(new PgCommand($"""
                        INSERT INTO {s}.rate_limits (function_id, key, tat) VALUES (@fn, @key, @now + @interval)
                        ON CONFLICT (function_id, key) DO UPDATE SET tat = GREATEST({s}.rate_limits.tat, @now) + @interval
                        {(rule.Drop ? $"WHERE GREATEST({s}.rate_limits.tat, @now) - @now <= @tolerance" : "")}
                        RETURNING tat
                        """, returnsRows: true)
                    .With("fn", run.FunctionId).With("key", rule.Key).With("now", Ms(run.CreatedAt))
                    .With("interval", (long)rule.Interval.TotalMilliseconds).With("tolerance", (long)rule.Tolerance.TotalMilliseconds));
                owners.Add((run, rule));
            }
        }

        return new PgRound<T>(commands, results =>
        {
            var starts = new Dictionary<string, DateTimeOffset?>(StringComparer.Ordinal);
            for (var i = 0; i < owners.Count; i++)
            {
                var (run, rule) = owners[i];
                var current = starts.TryGetValue(run.Id, out var known) ? known : run.AvailableAt;
                if (current is null || results[i].Rows.Count == 0)
                {
                    starts[run.Id] = null;
                    continue;
                }

                var start = Time0((long)results[i].Rows[0][0]!) - rule.Interval - rule.Tolerance;
                starts[run.Id] = start > current ? start : current;
            }

            return then(starts);
        });
    }

    /// <summary>The runs a rate round let through, each due no earlier than its throttles allow.</summary>
    public static IReadOnlyList<NewRun> Admitted(IEnumerable<NewRun> runs, IReadOnlyDictionary<string, DateTimeOffset?> starts) =>
        [.. runs
            .Where(r => !starts.TryGetValue(r.Id, out var start) || start is not null)
            .Select(r => starts.TryGetValue(r.Id, out var start) && start is { } at && at > r.AvailableAt ? r with { AvailableAt = at } : r)];

    /// <summary>Records the runs a rate limit dropped, for the API to show.</summary>
    public static PgCommand? RecordRateLimited(string s, IEnumerable<NewRun> runs, IReadOnlyDictionary<string, DateTimeOffset?> starts) =>
        RecordSkipped(s, runs.Where(r => starts.TryGetValue(r.Id, out var start) && start is null), "rate-limited");

    /// <summary>Records runs of events that were not created, and why, for the API to show.</summary>
    public static PgCommand? RecordSkipped(string s, IEnumerable<NewRun> runs, string reason)
    {
        var skipped = runs.Where(r => r.EventId is not null).ToList();
        return skipped.Count == 0
            ? null
            : new PgCommand($"""
                    INSERT INTO {s}.skipped_runs (event_id, function_id, reason, created_at)
                    SELECT *, @reason, @now FROM unnest(@events, @functions)
                    """)
                .With("events", skipped.Select(r => r.EventId!).ToArray())
                .With("functions", skipped.Select(r => r.FunctionId).ToArray())
                .With("reason", reason)
                .With("now", Ms(skipped[0].CreatedAt));
    }

    /// <summary>
    /// Inserts events, each only if its id is new; returns the ids inserted. Sent first in a write that appends events,
    /// it tells every later round which events are new: a repeated id (sent again, or by another write of the same
    /// batch, or by another node, which waits on the id's index until this transaction ends) starts nothing, consumes
    /// no rate-limit token and records no skipped run.
    /// </summary>
    public static PgCommand InsertEvents(string s, IReadOnlyList<EventRecord> events) =>
        new PgCommand($"""
                INSERT INTO {s}.events (id, name, data, ts, received_at)
                SELECT * FROM unnest(@event_ids, @event_names, @event_data, @event_ts, @event_received)
                ON CONFLICT (id) DO NOTHING
                RETURNING id
                """, returnsRows: true)
            .With("event_ids", events.Select(e => e.Id).ToArray())
            .With("event_names", events.Select(e => e.Name).ToArray())
            .With("event_data", events.Select(e => e.StoredData).ToArray())
            .With("event_ts", events.Select(e => Ms(e.Timestamp)).ToArray())
            .With("event_received", events.Select(e => Ms(e.ReceivedAt)).ToArray());

    /// <summary>
    /// One statement per run of a batching function (<see cref="NewRun.BatchKey"/>), sent in order in one round so that
    /// each sees the batches the ones before it opened: the run opens a batch for its key, or its event joins the open
    /// one (which closes when it fills: due at once, key given up; the run itself is recorded as skipped, "batched").
    /// Each returns (the batch's run id, whether this run opened it).
    /// </summary>
    public static IReadOnlyList<PgCommand> JoinBatches(string s, IEnumerable<NewRun> runs) =>
        [.. runs.Select(run => new PgCommand($"""
                WITH q AS (
                    INSERT INTO {s}.queue AS open (run_id, function_id, available_at, owner, token, concurrency_key, queue_name, batch_key, batch_size)
                    VALUES (@id, @fn, @available, NULL, 0, @concurrency, @queue, @key, 1)
                    ON CONFLICT (function_id, batch_key) WHERE batch_key IS NOT NULL DO UPDATE SET
                        batch_size = open.batch_size + 1,
                        batch_key = CASE WHEN open.batch_size + 1 >= @max THEN NULL ELSE open.batch_key END,
                        available_at = CASE WHEN open.batch_size + 1 >= @max THEN LEAST(open.available_at, @created) ELSE open.available_at END
                    RETURNING run_id, (xmax = 0) AS opened),
                created AS (
                    INSERT INTO {s}.runs (id, function_id, status, input, attempt, event_id, created_at, tags)
                    SELECT @id, @fn, 0, @input, 0, @event, @created, @tags FROM q WHERE q.opened),
                joined AS (
                    UPDATE {s}.runs r SET input = left(r.input, -1) || ',' || @event_json || ']'
                    FROM q WHERE NOT q.opened AND r.id = q.run_id),
                moved AS (
                    UPDATE {s}.large_values v SET run_id = q.run_id
                    FROM q WHERE @moves AND NOT q.opened AND v.run_id = @id),
                skipped AS (
                    INSERT INTO {s}.skipped_runs (event_id, function_id, reason, created_at)
                    SELECT @event, @fn, 'batched', @created FROM q WHERE NOT q.opened)
                SELECT run_id, opened FROM q
                """, returnsRows: true)
            .With("id", run.Id).With("fn", run.FunctionId).With("available", Ms(run.AvailableAt)).With("concurrency", run.ConcurrencyKey)
            .With("queue", run.QueueName).With("key", run.BatchKey).With("max", run.BatchMaxSize).With("created", Ms(run.CreatedAt))
            .With("input", run.StoredInput).With("event_json", run.StoredInput[1..^1]).With("event", run.EventId)
            .With("moves", run.StoredInputJson is not null)
            .With("tags", run.Tags.Count == 0 ? null : System.Text.Json.JsonSerializer.Serialize(run.Tags)))];

    /// <summary>
    /// A round for debounced runs (those with a debounce key): for each key, the pending run (not started yet), if any,
    /// takes the latest event's input and its new due time (capped by its debounce timeout). <paramref name="then"/> gets
    /// the runs still to create (the latest of each key without a pending run) and the ones absorbed or superseded.
    /// Null when no run is debounced.
    /// </summary>
    public static PgRound<T>? Debounce<T>(string s, IReadOnlyList<NewRun> runs, Func<IReadOnlySet<string>, PgNext<T>> then)
    {
        var latest = runs.Where(r => r.DebounceKey is not null).GroupBy(r => (r.FunctionId, r.DebounceKey)).Select(g => g.Last()).ToList();
        if (latest.Count == 0)
        {
            return null;
        }

        var commands = latest.Select(run => new PgCommand($"""
                WITH pending AS (
                    UPDATE {s}.queue SET available_at = LEAST(@available, debounce_until)
                    WHERE function_id = @fn AND debounce_key = @key RETURNING run_id),
                moved AS (
                    UPDATE {s}.large_values v SET run_id = pending.run_id FROM pending WHERE @moves AND v.run_id = @id)
                UPDATE {s}.runs r SET input = @input, event_id = @event FROM pending WHERE r.id = pending.run_id
                RETURNING r.id
                """, returnsRows: true)
            .With("available", Ms(run.AvailableAt)).With("fn", run.FunctionId).With("key", run.DebounceKey)
            .With("input", run.StoredInput).With("event", run.EventId)
            .With("moves", run.StoredInputJson is not null).With("id", run.Id)).ToList();
        return new PgRound<T>(commands, results =>
        {
            // Every debounced run but the latest of a key that has no pending run is absorbed: it is not created.
            var created = latest.Where((_, i) => results[i].Rows.Count == 0).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
            return then(runs.Where(r => r.DebounceKey is not null && !created.Contains(r.Id)).Select(r => r.Id).ToHashSet(StringComparer.Ordinal));
        });
    }

    /// <summary>
    /// The first round of a write that creates singleton runs whose mode is cancel: reads which unfinished runs hold their
    /// keys, and hands <paramref name="then"/> the statements that cancel them (run first in the next round, so the new
    /// runs find their keys free). Null when no run needs it.
    /// </summary>
    public static PgRound<T>? CancelSingletons<T>(string s, IEnumerable<NewRun> runs, DateTimeOffset now, Func<IReadOnlyList<PgCommand>, PgNext<T>> then)
    {
        var replacing = runs.Where(r => r is { SingletonKey: not null, SingletonMode: SingletonMode.Cancel }).ToList();
        if (replacing.Count == 0)
        {
            return null;
        }

        var holders = new PgCommand($"""
                SELECT q.run_id, k.new_id FROM unnest(@functions, @keys, @new_ids) AS k(function_id, singleton_key, new_id)
                JOIN {s}.queue q ON q.function_id = k.function_id AND q.singleton_key = k.singleton_key
                """, returnsRows: true)
            .With("functions", replacing.Select(r => r.FunctionId).ToArray())
            .With("keys", replacing.Select(r => r.SingletonKey).ToArray())
            .With("new_ids", replacing.Select(r => r.Id).ToArray());
        return new PgRound<T>([holders], results => then([.. results[0].Rows
            .DistinctBy(r => (string)r[0]!)
            .Select(r => Cancel(s, (string)r[0]!, RunStatus.Cancelled, RunErrors.SingletonReplaced((string)r[1]!), now))]));
    }

    /// <summary>
    /// A CTE that adds, for each run in <paramref name="runs"/> (a CTE with id, function_id, input, trigger, created_at),
    /// one wait per cancel rule of its function, with the match value taken from the run's trigger: its data as sent in
    /// <c>trigger</c> when the input holds it stored out of line (see <see cref="TriggerData"/>), else from the input.
    /// </summary>
    public static string CancelWaits(string s, string runs) => $"""
        cancel_waits AS (
            INSERT INTO {s}.waits (run_id, step_key, kind, event_name, match_path, match_value, condition, pending, created_at)
            SELECT r.id, 'cancel:' || c.idx, 3, c.event_name, c.match_path,
                CASE WHEN c.match_path IS NULL THEN NULL ELSE {s}.match_value(COALESCE(r.trigger, ((r.input::jsonb) -> 0 -> 'data')::text), c.match_path) END,
                c.condition, 0, r.created_at
            FROM {runs} r JOIN {s}.function_cancels c ON c.function_id = r.function_id)
        """;

    /// <summary>The data of a run's trigger as sent, when its input is stored with a reference to it; null otherwise.</summary>
    public static string? TriggerData(NewRun run)
    {
        if (run.StoredInputJson is null)
        {
            return null;
        }

        using var input = System.Text.Json.JsonDocument.Parse(run.InputJson);
        return input.RootElement[0].GetProperty("data").GetRawText();
    }

    /// <summary>Journal entries of a run, written as they are (for runs that start with a journal).</summary>
    public static PgCommand InsertSteps(string s, string runId, IReadOnlyList<StepRecord> steps) =>
        new PgCommand($"""
                INSERT INTO {s}.steps (run_id, key, kind, status, output, error, attempts, started_at, ended_at, wake_at)
                SELECT @run, * FROM unnest(@keys, @kinds, @statuses, @outputs, @errors, @attempts, @started, @ended, @wake)
                """)
            .With("run", runId)
            .With("keys", steps.Select(x => x.Key).ToArray())
            .With("kinds", steps.Select(x => (int)x.Kind).ToArray())
            .With("statuses", steps.Select(x => (int)x.Status).ToArray())
            .With("outputs", steps.Select(x => x.OutputJson).ToArray())
            .With("errors", steps.Select(x => ErrorToDb(x.Error)).ToArray())
            .With("attempts", steps.Select(x => x.Attempts).ToArray())
            .With("started", steps.Select(x => Ms(x.StartedAt)).ToArray())
            .With("ended", steps.Select(x => MsOrNull(x.EndedAt)).ToArray())
            .With("wake", steps.Select(x => MsOrNull(x.WakeAt)).ToArray());

    /// <summary>
    /// The waits the given events may resolve: by name and match value through the index (the match paths in use come
    /// from wait_paths), and the waits with only a condition. Rows: event index, run id, step key, condition, run input,
    /// kind. Each event's match values are computed once, first, so the join is on plain equality whatever the plan.
    /// </summary>
    public static PgCommand FindWaits(string s, IReadOnlyList<EventRecord> events) =>
        new PgCommand($"""
                WITH probe AS MATERIALIZED (
                    SELECT e.idx, e.name, p.match_path, {s}.match_value(e.data, p.match_path) AS match_value
                    FROM unnest(@names, @data) WITH ORDINALITY AS e(name, data, idx)
                    JOIN {s}.wait_paths p ON p.event_name = e.name)
                SELECT e.idx - 1, w.run_id, w.step_key, w.condition, CASE WHEN w.condition IS NULL THEN NULL ELSE r.input END, w.kind
                FROM probe e
                JOIN {s}.waits w ON w.event_name = e.name AND w.match_path = e.match_path AND w.match_value = e.match_value
                JOIN {s}.runs r ON r.id = w.run_id
                UNION ALL
                SELECT e.idx - 1, w.run_id, w.step_key, w.condition, CASE WHEN w.condition IS NULL THEN NULL ELSE r.input END, w.kind
                FROM unnest(@names) WITH ORDINALITY AS e(name, idx)
                JOIN {s}.waits w ON w.event_name = e.name AND w.match_path IS NULL
                JOIN {s}.runs r ON r.id = w.run_id
                """, returnsRows: true)
            .With("names", events.Select(e => e.Name).ToArray())
            .With("data", events.Select(e => e.DataJson).ToArray());

    /// <summary>
    /// The rounds that resolve the waits chosen among <paramref name="candidates"/> (rows of <see cref="FindWaits"/>) for
    /// the events that were accepted (and cancel the runs whose cancel rules matched), ending with
    /// <paramref name="value"/>; or null when nothing matched.
    /// </summary>
    public static PgRound<T>? Resolution<T>(string s, IReadOnlyList<EventRecord> events, IReadOnlyList<bool> accepted, PgResult candidates, DateTimeOffset now, T value)
    {
        var found = candidates.Rows
            .Select(r => new WaitCandidate((int)(long)r[0]!, (string)r[1]!, (string)r[2]!, (string?)r[3], (string?)r[4], (WaitKind)(int)r[5]!))
            .Where(c => accepted[c.EventIndex])
            .Select(c => c.Condition is null ? c with { TriggerInputJson = null } : c)
            .ToList();

        // A condition on the run's trigger sees its data as sent: data stored out of line is read first, in a round of its own.
        var large = found.SelectMany(c => LargeEventData.References(c.TriggerInputJson ?? "")).Select(r => r.Id).Distinct(StringComparer.Ordinal).ToArray();
        if (large.Length == 0)
        {
            return Resolve(s, events, found, now, value);
        }

        return new PgRound<T>([LoadValues(s, large)], results =>
        {
            var values = Values(results[0]);
            var expanded = found
                .Select(c => LargeEventData.MayRefer(c.TriggerInputJson) ? c with { TriggerInputJson = LargeEventData.Rewrite(c.TriggerInputJson!, (id, _) => Value(values, id)) } : c)
                .ToList();
            return Resolve(s, events, expanded, now, value) is { } round ? PgNext<T>.More(round) : PgNext<T>.Done(value);
        });
    }

    /// <summary>Reads stored values by id: rows of (id, compressed data).</summary>
    public static PgCommand LoadValues(string s, string[] ids) =>
        new PgCommand($"SELECT id, data FROM {s}.large_values WHERE id = ANY(@ids)", returnsRows: true).With("ids", ids);

    /// <summary>The values read by <see cref="LoadValues"/>, decompressed.</summary>
    public static Dictionary<string, string> Values(PgResult result) =>
        result.Rows.ToDictionary(r => (string)r[0]!, r => Engine.LargeValues.Decompress((byte[])r[1]!), StringComparer.Ordinal);

    /// <summary>A value read by <see cref="LoadValues"/>.</summary>
    /// <exception cref="BatonException">It is gone.</exception>
    public static string Value(Dictionary<string, string> values, string id) =>
        values.TryGetValue(id, out var value)
            ? value
            : throw Engine.LargeValues.Gone(id);

    /// <summary>A statement that copies a stored value under a new id, owned by <paramref name="runId"/>.</summary>
    public static PgCommand CopyValue(string s, string from, string to, string runId, DateTimeOffset now) =>
        new PgCommand($"""
                INSERT INTO {s}.large_values (id, run_id, bytes, data, created_at)
                SELECT @to, @run, bytes, data, @now FROM {s}.large_values WHERE id = @from
                """)
            .With("to", to).With("run", runId).With("now", Ms(now)).With("from", from);

    private static PgRound<T>? Resolve<T>(string s, IReadOnlyList<EventRecord> events, IReadOnlyList<WaitCandidate> found, DateTimeOffset now, T value)
    {
        var chosen = WaitMatching.Choose(events, found);
        if (chosen.Count == 0)
        {
            return null;
        }

        var commands = new List<PgCommand>();
        var resolved = chosen.Where(c => c.Wait.Kind != WaitKind.Cancel).ToList();
        if (resolved.Count > 0)
        {
            // An event with large data is recorded with a copy of it for the run (which may outlive the event).
            var results = resolved.Select(c => WaitMatching.Result(c.Event)).ToList();
            commands.Add(new PgCommand($"""
                    WITH pick AS (SELECT * FROM unnest(@runs, @keys, @outputs, @copy_from, @copy_to) AS t(run_id, step_key, output, copy_from, copy_to)),
                    gone AS (
                        DELETE FROM {s}.waits w USING pick p WHERE w.run_id = p.run_id AND w.step_key = p.step_key
                        RETURNING w.run_id, w.step_key),
                    stepped AS (
                        UPDATE {s}.steps st SET status = 0, output = p.output, ended_at = @now
                        FROM gone g JOIN pick p ON p.run_id = g.run_id AND p.step_key = g.step_key
                        WHERE st.run_id = g.run_id AND st.key = g.step_key),
                    copied AS (
                        INSERT INTO {s}.large_values (id, run_id, bytes, data, created_at)
                        SELECT p.copy_to, p.run_id, v.bytes, v.data, @now
                        FROM gone g JOIN pick p ON p.run_id = g.run_id AND p.step_key = g.step_key
                        JOIN {s}.large_values v ON v.id = p.copy_from),
                    {Wake(s)}
                    SELECT COUNT(*) FROM gone
                    """, returnsRows: true)
                .With("runs", resolved.Select(c => c.Wait.RunId).ToArray())
                .With("keys", resolved.Select(c => c.Wait.StepKey).ToArray())
                .With("outputs", results.Select(r => r.Output).ToArray())
                .With("copy_from", results.Select(r => r.CopyFrom).ToArray())
                .With("copy_to", results.Select(r => r.CopyTo).ToArray())
                .With("now", Ms(now)));
        }

        var cancels = chosen.Where(c => c.Wait.Kind == WaitKind.Cancel).ToList();
        commands.AddRange(cancels.Select(c => Cancel(s, c.Wait.RunId, RunStatus.Cancelled, RunErrors.CancelledByEvent(c.Event), now)));
        return new PgRound<T>(commands, results =>
        {
            var reports = new List<PgCommand>();
            for (var i = 0; i < cancels.Count; i++)
            {
                reports.AddRange(ReportCancelToParent(s, results[commands.Count - cancels.Count + i], cancels[i].Wait.RunId, RunStatus.Cancelled, RunErrors.CancelledByEvent(cancels[i].Event), now));
            }

            return reports.Count == 0
                ? PgNext<T>.Done(value)
                : PgNext<T>.More(new PgRound<T>(reports, _ => PgNext<T>.Done(value), NotifiesWork: true));
        }, NotifiesWork: true);
    }

    /// <summary>
    /// Ends an unfinished run and its unfinished descendants (a recursive walk down parent links), removing their queue rows
    /// and waits, and notifies every node of each cancelled run at commit (so an execution elsewhere stops at once).
    /// Returns one row (the run's parent and step, maybe null) when the run was cancelled, none when it had ended.
    /// </summary>
    public static PgCommand Cancel(string s, string runId, RunStatus status, RunError reason, DateTimeOffset now)
    {
        var inherited = RunErrors.ParentCancelled(runId, reason);
        return new PgCommand($"""
                WITH RECURSIVE tree AS (
                    SELECT id FROM {s}.runs WHERE id = @run AND ended_at IS NULL
                    UNION ALL
                    SELECT r.id FROM {s}.runs r JOIN tree t ON r.parent_run_id = t.id WHERE r.ended_at IS NULL),
                dequeued AS (
                    DELETE FROM {s}.queue q USING tree t WHERE q.run_id = t.id RETURNING q.run_id),
                ended AS (
                    UPDATE {s}.runs r SET
                        status = CASE WHEN r.id = @run THEN @status ELSE 5 END,
                        error = CASE WHEN r.id = @run THEN @error ELSE @inherited END,
                        ended_at = @now
                    FROM dequeued d WHERE r.id = d.run_id
                    RETURNING r.id, r.parent_run_id, r.parent_step),
                unwaited AS (
                    DELETE FROM {s}.waits w USING dequeued d WHERE w.run_id = d.run_id),
                notified AS (
                    SELECT pg_notify(@channel, @prefix || run_id) FROM dequeued)
                SELECT parent_run_id, parent_step FROM ended WHERE id = @run AND (SELECT COUNT(*) FROM notified) >= 0
                """, returnsRows: true)
            .With("run", runId).With("status", (int)status).With("error", ErrorToDb(reason))
            .With("inherited", ErrorToDb(inherited)).With("now", Ms(now))
            .With("channel", "baton_work_" + s).With("prefix", CancelPrefix);
    }

    /// <summary>The payload prefix of a cancellation notice on the work channel: <c>cancel:</c> and the run id.</summary>
    public const string CancelPrefix = "cancel:";

    /// <summary>The statements that report a cancellation (the result of <see cref="Cancel"/>) to the run's parent, if any.</summary>
    public static PgCommand[] ReportCancelToParent(string s, PgResult cancelled, string runId, RunStatus status, RunError reason, DateTimeOffset now) =>
        cancelled.Rows is [var row] && row[0] is string parent
            ? ReportToParent(s, parent, (string)row[1]!, runId, status, null, reason, now)
            : [];

    /// <summary>
    /// Reports a child run's end to its parent's wait; the last child resolves it (an invoke with the child's outcome, a
    /// batch with a completed entry whose results the parent reads from its children) and wakes the parent.
    /// </summary>
    /// <remarks>
    /// Two statements: the count goes down first (concurrent children serialize on the wait's row, each seeing the
    /// other's decrement), and the second statement, which sees that decrement, resolves the wait when it reached zero.
    /// (One statement cannot both update and delete the same row.)
    /// </remarks>
    public static PgCommand[] ReportToParent(string s, string parentRunId, string stepKey, string childRunId, RunStatus status, string? output, RunError? error, DateTimeOffset now)
    {
        var completed = status == RunStatus.Completed;
        return
        [
            new PgCommand($"UPDATE {s}.waits SET pending = pending - 1 WHERE run_id = @parent AND step_key = @step")
                .With("parent", parentRunId).With("step", stepKey),
            new PgCommand($"""
                    WITH gone AS (
                        DELETE FROM {s}.waits WHERE run_id = @parent AND step_key = @step AND pending <= 0 AND kind IN (1, 2)
                        RETURNING run_id, step_key, kind),
                    stepped AS (
                        UPDATE {s}.steps st SET
                            status = CASE WHEN g.kind = 1 AND NOT @completed THEN 1 ELSE 0 END,
                            output = CASE WHEN g.kind = 1 AND @completed THEN @output END,
                            error = CASE WHEN g.kind = 1 AND NOT @completed THEN @error END,
                            ended_at = @now
                        FROM gone g WHERE st.run_id = g.run_id AND st.key = g.step_key),
                    {Wake(s)}
                    SELECT COUNT(*) FROM gone
                    """, returnsRows: true)
                .With("parent", parentRunId).With("step", stepKey).With("completed", completed)
                .With("output", completed ? output : null)
                .With("error", completed ? null : ErrorToDb(RunErrors.ChildEnded(childRunId, status, error)))
                .With("now", Ms(now)),
        ];
    }

    /// <summary>
    /// CTEs that wake the runs whose waits the CTE <c>gone</c> removed: due now if suspended; marked woken if still
    /// leased, so their suspension makes them due at once. Needs <c>@now</c>.
    /// </summary>
    private static string Wake(string s) => $"""
        woken AS (
            UPDATE {s}.queue q SET woken = 1,
                available_at = CASE WHEN q.owner IS NULL AND q.available_at > @now THEN @now ELSE q.available_at END
            FROM (SELECT DISTINCT run_id FROM gone) g WHERE q.run_id = g.run_id
            RETURNING q.run_id, q.owner IS NULL AS unleased),
        requeued AS (
            UPDATE {s}.runs r SET status = 0 FROM woken WHERE r.id = woken.run_id AND woken.unleased)
        """;
}

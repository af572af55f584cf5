using System.Text.Json;
using Baton.Storage;
using static Baton.Sqlite.SqliteDatabase;

namespace Baton.Sqlite;

/// <summary>Statements shared by several stores, run inside the writer's transaction.</summary>
internal static class SqliteWrites
{
    /// <summary>
    /// Appends events and, for each new one, its runs; then resolves the waits the new events match, in the same
    /// transaction, so an accepted event can never miss a waiter registered before it.
    /// </summary>
    public static AppendResult AppendEvents(SqliteWriter writer, IReadOnlyList<EventAppend> appends, DateTimeOffset now)
    {
        var accepted = new bool[appends.Count];
        var created = new List<string>();
        var fresh = new List<EventRecord>();
        for (var i = 0; i < appends.Count; i++)
        {
            var e = appends[i].Event;
            accepted[i] = writer.Command(
                    "INSERT INTO events(id, name, data, ts, received_at) VALUES (@id, @name, @data, @ts, @received) ON CONFLICT(id) DO NOTHING;")
                .With("@id", e.Id).With("@name", e.Name).With("@data", e.StoredData)
                .With("@ts", Ms(e.Timestamp)).With("@received", Ms(e.ReceivedAt))
                .ExecuteNonQuery() == 1;

            // A repeated event id was accepted before, with its runs: start none again.
            if (accepted[i])
            {
                fresh.Add(e);
                foreach (var run in appends[i].Runs)
                {
                    if (InsertRun(writer, run) == run.Id)
                    {
                        created.Add(run.Id);
                    }
                }
            }
        }

        ResolveEventWaits(writer, fresh, now);
        return new AppendResult(accepted, created);
    }

    /// <summary>
    /// Creates a run and enqueues it. Returns its id; or, when its singleton or idempotency key is held by another run of
    /// its function, that run's id; or null when a rate limit dropped it. Runs not created are recorded as skipped.
    /// </summary>
    public static string? InsertRun(SqliteWriter writer, NewRun run)
    {
        // Event batching: the open batch of the key (a run not started yet) takes this event; the event that fills it
        // closes it (due at once, key given up).
        if (run.BatchKey is { } batchKey
            && writer.Command("""
                    UPDATE queue SET batch_size = batch_size + 1,
                        batch_key = CASE WHEN batch_size + 1 >= @max THEN NULL ELSE batch_key END,
                        available_at = CASE WHEN batch_size + 1 >= @max THEN MIN(available_at, @now) ELSE available_at END
                    WHERE function_id = @fn AND batch_key = @key RETURNING run_id;
                    """)
                .With("@max", run.BatchMaxSize).With("@now", Ms(run.CreatedAt)).With("@fn", run.FunctionId).With("@key", batchKey)
                .ExecuteScalar() is string batch)
        {
            writer.Command("UPDATE runs SET input = substr(input, 1, length(input) - 1) || ',' || @event || ']' WHERE id = @run;")
                .With("@event", run.StoredInput[1..^1]).With("@run", batch).ExecuteNonQuery();
            MoveLargeValues(writer, run, batch);
            RecordSkip(writer, run, "batched");
            return batch;
        }

        // Debounce: a run of the same key that has not started yet takes this event and waits a quiet period again.
        if (run.DebounceKey is { } debounce
            && writer.Command("SELECT run_id FROM queue WHERE function_id = @fn AND debounce_key = @key;")
                .With("@fn", run.FunctionId).With("@key", debounce).ExecuteScalar() is string pending)
        {
            writer.Command("UPDATE queue SET available_at = MIN(@available, debounce_until) WHERE run_id = @run;")
                .With("@available", Ms(run.AvailableAt)).With("@run", pending).ExecuteNonQuery();
            writer.Command("UPDATE runs SET input = @input, event_id = @event WHERE id = @run;")
                .With("@input", run.StoredInput).With("@event", run.EventId).With("@run", pending).ExecuteNonQuery();
            MoveLargeValues(writer, run, pending);
            RecordSkip(writer, run, "debounced");
            return pending;
        }

        // A singleton function has one unfinished run per key: skip the new run, or cancel the one there.
        if (run.SingletonKey is { } singleton
            && writer.Command("SELECT run_id FROM queue WHERE function_id = @fn AND singleton_key = @key;")
                .With("@fn", run.FunctionId).With("@key", singleton).ExecuteScalar() is string holder)
        {
            if (run.SingletonMode == SingletonMode.Skip)
            {
                RecordSkip(writer, run, "singleton");
                return holder;
            }

            CancelRun(writer, holder, RunStatus.Cancelled, RunErrors.SingletonReplaced(run.Id), run.CreatedAt);
        }

        // Rate rules: a rate limit drops a run that does not conform (recorded as skipped); a throttle delays it.
        foreach (var rule in run.RateRules)
        {
            var stored = writer.Command("SELECT tat FROM rate_limits WHERE function_id = @fn AND key = @key;")
                .With("@fn", run.FunctionId).With("@key", rule.Key).ExecuteScalar() is long ms ? Time0(ms) : (DateTimeOffset?)null;
            var (allowed, startAt, tat) = rule.Apply(stored, run.CreatedAt);
            if (!allowed)
            {
                RecordSkip(writer, run, "rate-limited");
                return null;
            }

            writer.Command("INSERT INTO rate_limits(function_id, key, tat) VALUES (@fn, @key, @tat) ON CONFLICT(function_id, key) DO UPDATE SET tat = excluded.tat;")
                .With("@fn", run.FunctionId).With("@key", rule.Key).With("@tat", Ms(tat)).ExecuteNonQuery();
            if (startAt > run.AvailableAt)
            {
                run = run with { AvailableAt = startAt };
            }
        }

        if (run.IdempotencyKey is { } key && writer.Command("""
                INSERT INTO idempotency(function_id, key, run_id, expires_at) VALUES (@fn, @key, @run, @until)
                ON CONFLICT(function_id, key) DO UPDATE SET run_id = excluded.run_id, expires_at = excluded.expires_at
                WHERE idempotency.expires_at <= @now;
                """).With("@fn", run.FunctionId).With("@key", key).With("@run", run.Id).With("@until", Ms(run.IdempotentUntil)).With("@now", Ms(run.CreatedAt))
                .ExecuteNonQuery() == 0)
        {
            RecordSkip(writer, run, "idempotency");
            return (string)writer.Command("SELECT run_id FROM idempotency WHERE function_id = @fn AND key = @key;")
                .With("@fn", run.FunctionId).With("@key", key).ExecuteScalar()!;
        }

        writer.Command("""
                INSERT INTO runs(id, function_id, status, input, attempt, event_id, created_at, parent_run_id, parent_step, parent_index, tags)
                VALUES (@id, @fn, 0, @input, 0, @event, @created, @parent, @step, @index, @tags);
                """)
            .With("@id", run.Id).With("@fn", run.FunctionId).With("@input", run.StoredInput)
            .With("@event", run.EventId).With("@created", Ms(run.CreatedAt))
            .With("@parent", run.Parent?.RunId).With("@step", run.Parent?.StepKey).With("@index", run.Parent?.Index)
            .With("@tags", run.Tags.Count == 0 ? null : JsonSerializer.Serialize(run.Tags))
            .ExecuteNonQuery();
        // The first claim of a run makes its lease token 1, which tells the worker there is no journal to read; a run that
        // starts with a journal (re-run from a step) starts at 1, so its first claim reads it.
        writer.Command("""
                INSERT INTO queue(run_id, function_id, available_at, owner, token, concurrency_key, singleton_key, debounce_key, debounce_until, queue_name, start_by, batch_key, batch_size)
                VALUES (@id, @fn, @available, NULL, @token, @key, @singleton, @debounce, @debounce_until, @queue, @start_by, @batch, 1);
                """)
            .With("@id", run.Id).With("@fn", run.FunctionId).With("@available", Ms(run.AvailableAt)).With("@key", run.ConcurrencyKey).With("@singleton", run.SingletonKey)
            .With("@debounce", run.DebounceKey).With("@debounce_until", run.DebounceKey is null ? null : Ms(run.DebounceUntil)).With("@queue", run.QueueName).With("@start_by", MsOrNull(run.StartBy))
            .With("@token", run.Journal is { Count: > 0 } ? 1 : 0).With("@batch", run.BatchKey)
            .ExecuteNonQuery();
        foreach (var step in run.Journal ?? [])
        {
            WriteStep(writer, run.Id, step);
        }

        AddCancelWaits(writer, run);
        return run.Id;
    }

    /// <summary>
    /// The values a run not created refers to (its events' large data) pass to the run that took its input, so they live
    /// as long as that run.
    /// </summary>
    private static void MoveLargeValues(SqliteWriter writer, NewRun run, string intoRunId)
    {
        if (run.StoredInputJson is not null)
        {
            writer.Command("UPDATE large_values SET run_id = @into WHERE run_id = @run;").With("@into", intoRunId).With("@run", run.Id).ExecuteNonQuery();
        }
    }

    /// <summary>
    /// <paramref name="json"/> (a run's input, or an event) with the events' data stored out of line read back in.
    /// </summary>
    public static string ExpandEvents(SqliteWriter writer, string json) =>
        LargeEventData.Rewrite(json, (id, _) => LoadValue(writer, id));

    /// <summary>The lease condition every leased write carries: the run is still queued, ours, and not claimed again since.</summary>
    public const string Leased = "run_id = @run AND owner = @owner AND token = @token";

    /// <summary>Throws <see cref="LeaseLostException"/> unless <paramref name="lease"/> still holds its run.</summary>
    public static void EnsureLeased(SqliteWriter writer, RunLease lease)
    {
        if (writer.Command($"SELECT 1 FROM queue WHERE {Leased};").WithLease(lease).ExecuteScalar() is null)
        {
            throw new LeaseLostException(lease.RunId);
        }
    }

    /// <summary>A stored value, decompressed: the JSON a reference stands for.</summary>
    /// <exception cref="BatonException">It is gone.</exception>
    public static string LoadValue(SqliteWriter writer, string id) =>
        writer.Command("SELECT data FROM large_values WHERE id = @id;").With("@id", id).ExecuteScalar() is byte[] compressed
            ? Engine.LargeValues.Decompress(compressed)
            : throw Engine.LargeValues.Gone(id);

    /// <summary>Records a resolved wait's result; an event with large data is recorded with a copy of it for the run.</summary>
    public static void ResolveEventWait(SqliteWriter writer, string runId, string stepKey, EventRecord e, DateTimeOffset now)
    {
        var (output, from, to) = WaitMatching.Result(e);
        if (ResolveWait(writer, runId, stepKey, StepStatus.Completed, output, null, now) && from is not null)
        {
            CopyLargeValue(writer, from, to!, runId, now);
        }
    }

    /// <summary>Copies a stored value under a new id, owned by <paramref name="runId"/>.</summary>
    public static void CopyLargeValue(SqliteWriter writer, string from, string to, string runId, DateTimeOffset now) =>
        writer.Command("INSERT INTO large_values(id, run_id, bytes, data, created_at) SELECT @to, @run, bytes, data, @now FROM large_values WHERE id = @from;")
            .With("@to", to).With("@run", runId).With("@now", Ms(now)).With("@from", from).ExecuteNonQuery();

    /// <summary>One wait per cancel rule of the run's function, so a matching event finds the run through the index.</summary>
    private static void AddCancelWaits(SqliteWriter writer, NewRun run)
    {
        List<(long Index, string EventName, string? Path, string? Condition)>? rules = null;
        using (var reader = writer.Command("SELECT idx, event_name, match_path, condition FROM function_cancels WHERE function_id = @fn;").With("@fn", run.FunctionId).ExecuteReader())
        {
            while (reader.Read())
            {
                (rules ??= []).Add((reader.GetInt64(0), reader.GetString(1), StringOrNull(reader, 2), StringOrNull(reader, 3)));
            }
        }

        if (rules is null)
        {
            return;
        }

        using var input = JsonDocument.Parse(run.InputJson);
        var data = input.RootElement[0].GetProperty("data");
        foreach (var (index, eventName, path, condition) in rules)
        {
            writer.Command("""
                    INSERT INTO waits(run_id, step_key, kind, event_name, match_path, match_value, condition, pending, created_at)
                    VALUES (@run, @key, 3, @name, @path, @value, @condition, 0, @now);
                    """)
                .With("@run", run.Id).With("@key", $"cancel:{index}").With("@name", eventName).With("@path", path)
                .With("@value", path is null ? null : WaitMatching.MatchValue(data, path)).With("@condition", condition)
                .With("@now", Ms(run.CreatedAt))
                .ExecuteNonQuery();
        }
    }

    public static void WriteStep(SqliteWriter w, string runId, StepRecord step) =>
        w.Command("""
                INSERT INTO steps(run_id, key, kind, status, output, error, attempts, started_at, ended_at, wake_at)
                VALUES (@run, @key, @kind, @status, @output, @error, @attempts, @started, @ended, @wake)
                ON CONFLICT(run_id, key) DO UPDATE SET
                    kind = excluded.kind, status = excluded.status, output = excluded.output, error = excluded.error,
                    attempts = excluded.attempts, ended_at = excluded.ended_at, wake_at = excluded.wake_at;
                """)
            .With("@run", runId)
            .With("@key", step.Key).With("@kind", (int)step.Kind).With("@status", (int)step.Status)
            .With("@output", step.OutputJson).With("@error", ErrorToDb(step.Error)).With("@attempts", step.Attempts)
            .With("@started", Ms(step.StartedAt)).With("@ended", MsOrNull(step.EndedAt)).With("@wake", MsOrNull(step.WakeAt))
            .ExecuteNonQuery();

    /// <summary>Finds the waits the events match (by index on name and match value), checks conditions, resolves them.</summary>
    private static void ResolveEventWaits(SqliteWriter writer, List<EventRecord> events, DateTimeOffset now)
    {
        if (events.Count == 0)
        {
            return;
        }

        var candidates = new List<WaitCandidate>();
        var paths = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (!paths.TryGetValue(e.Name, out var names))
            {
                names = [];
                using (var reader = writer.Command("SELECT match_path FROM wait_paths WHERE event_name = @name;").With("@name", e.Name).ExecuteReader())
                {
                    while (reader.Read())
                    {
                        names.Add(reader.GetString(0));
                    }
                }

                paths[e.Name] = names;
            }

            if (names.Count > 0)
            {
                using var data = JsonDocument.Parse(e.DataJson);
                foreach (var path in names)
                {
                    if (WaitMatching.MatchValue(data.RootElement, path) is { } value)
                    {
                        ReadCandidates(writer, writer.Command("""
                                SELECT w.run_id, w.step_key, w.condition, CASE WHEN w.condition IS NULL THEN NULL ELSE r.input END, w.kind
                                FROM waits w JOIN runs r ON r.id = w.run_id
                                WHERE w.event_name = @name AND w.match_path = @path AND w.match_value = @value;
                                """).With("@name", e.Name).With("@path", path).With("@value", value), i, candidates);
                    }
                }
            }

            ReadCandidates(writer, writer.Command("""
                    SELECT w.run_id, w.step_key, w.condition, CASE WHEN w.condition IS NULL THEN NULL ELSE r.input END, w.kind
                    FROM waits w JOIN runs r ON r.id = w.run_id
                    WHERE w.event_name = @name AND w.match_path IS NULL;
                    """).With("@name", e.Name), i, candidates);
        }

        foreach (var (wait, e) in WaitMatching.Choose(events, candidates))
        {
            if (wait.Kind == WaitKind.Cancel)
            {
                CancelRun(writer, wait.RunId, RunStatus.Cancelled, RunErrors.CancelledByEvent(e), now);
            }
            else
            {
                ResolveEventWait(writer, wait.RunId, wait.StepKey, e, now);
            }
        }
    }

    private static void ReadCandidates(SqliteWriter writer, Microsoft.Data.Sqlite.SqliteCommand command, int eventIndex, List<WaitCandidate> into)
    {
        var start = into.Count;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            into.Add(new WaitCandidate(eventIndex, reader.GetString(0), reader.GetString(1), StringOrNull(reader, 2), StringOrNull(reader, 3), (WaitKind)reader.GetInt32(4)));
        }

        // A condition on the run's trigger sees its data as sent, even when it is stored out of line.
        reader.Close();
        for (var i = start; i < into.Count; i++)
        {
            if (LargeEventData.MayRefer(into[i].TriggerInputJson))
            {
                into[i] = into[i] with { TriggerInputJson = ExpandEvents(writer, into[i].TriggerInputJson!) };
            }
        }
    }

    /// <summary>
    /// Resolves an open wait: removes it, records its outcome in the journal, and wakes the run. Returns false when the
    /// wait is gone (resolved or expired first), so exactly one outcome is recorded.
    /// </summary>
    public static bool ResolveWait(SqliteWriter writer, string runId, string stepKey, StepStatus status, string? output, RunError? error, DateTimeOffset now)
    {
        if (writer.Command("DELETE FROM waits WHERE run_id = @run AND step_key = @key;").With("@run", runId).With("@key", stepKey).ExecuteNonQuery() != 1)
        {
            return false;
        }

        writer.Command("UPDATE steps SET status = @status, output = @output, error = @error, ended_at = @now WHERE run_id = @run AND key = @key;")
            .With("@status", (int)status).With("@output", output).With("@error", ErrorToDb(error)).With("@now", Ms(now))
            .With("@run", runId).With("@key", stepKey)
            .ExecuteNonQuery();
        Wake(writer, runId, now);
        return true;
    }

    /// <summary>
    /// Makes a suspended run due now. A run that is leased (still executing, about to suspend) is marked woken instead,
    /// so its suspension puts it back due at once rather than at its timeout.
    /// </summary>
    private static void Wake(SqliteWriter writer, string runId, DateTimeOffset now)
    {
        var unleased = writer.Command("""
                UPDATE queue SET woken = 1, available_at = CASE WHEN owner IS NULL AND available_at > @now THEN @now ELSE available_at END
                WHERE run_id = @run RETURNING owner IS NULL;
                """).With("@run", runId).With("@now", Ms(now)).ExecuteScalar();
        if (unleased is long and 1)
        {
            writer.Command("UPDATE runs SET status = 0 WHERE id = @run;").With("@run", runId).ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Reports the end of a child run to its parent's wait: the last child of the wait resolves it (an invoke with the
    /// child's outcome, a batch with a completed entry whose results the parent reads from its children).
    /// </summary>
    public static void ReportToParent(SqliteWriter writer, string childRunId, RunStatus status, string? output, RunError? error, DateTimeOffset now)
    {
        string parent, step;
        using (var reader = writer.Command("SELECT parent_run_id, parent_step FROM runs WHERE id = @run AND parent_run_id IS NOT NULL;").With("@run", childRunId).ExecuteReader())
        {
            if (!reader.Read())
            {
                return;
            }

            (parent, step) = (reader.GetString(0), reader.GetString(1));
        }

        long pending, kind;
        using (var reader = writer.Command("UPDATE waits SET pending = pending - 1 WHERE run_id = @run AND step_key = @key RETURNING pending, kind;")
                   .With("@run", parent).With("@key", step).ExecuteReader())
        {
            if (!reader.Read())
            {
                // The parent no longer waits (its wait timed out, or it ended): nothing to report.
                return;
            }

            (pending, kind) = (reader.GetInt64(0), reader.GetInt64(1));
        }

        if (pending > 0)
        {
            return;
        }

        if ((WaitKind)kind == WaitKind.Invoke)
        {
            var completed = status == RunStatus.Completed;
            ResolveWait(writer, parent, step, completed ? StepStatus.Completed : StepStatus.Failed, completed ? output : null,
                completed ? null : RunErrors.ChildEnded(childRunId, status, error), now);
        }
        else
        {
            ResolveWait(writer, parent, step, StepStatus.Completed, null, null, now);
        }
    }

    /// <summary>Records that an event's run was not created, and why, for the API to show.</summary>
    private static void RecordSkip(SqliteWriter writer, NewRun run, string reason)
    {
        if (run.EventId is { } eventId)
        {
            writer.Command("INSERT INTO skipped_runs(event_id, function_id, reason, created_at) VALUES (@event, @fn, @reason, @now);")
                .With("@event", eventId).With("@fn", run.FunctionId).With("@reason", reason).With("@now", Ms(run.CreatedAt))
                .ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Ends an unfinished run (cancelled, timed out, expired), removes its waits, reports to its parent and cancels its
    /// unfinished descendants. Returns false when the run was not in the queue (already ended).
    /// </summary>
    public static bool CancelRun(SqliteWriter writer, string runId, RunStatus status, RunError reason, DateTimeOffset now)
    {
        if (writer.Command("DELETE FROM queue WHERE run_id = @run;").With("@run", runId).ExecuteNonQuery() != 1)
        {
            return false;
        }

        writer.Command("UPDATE runs SET status = @status, error = @error, ended_at = @now WHERE id = @run;")
            .With("@status", (int)status).With("@error", ErrorToDb(reason)).With("@now", Ms(now)).With("@run", runId)
            .ExecuteNonQuery();
        writer.Command("DELETE FROM waits WHERE run_id = @run;").With("@run", runId).ExecuteNonQuery();
        ReportToParent(writer, runId, status, null, reason, now);

        var children = new List<string>();
        using (var reader = writer.Command("SELECT id FROM runs WHERE parent_run_id = @run AND ended_at IS NULL;").With("@run", runId).ExecuteReader())
        {
            while (reader.Read())
            {
                children.Add(reader.GetString(0));
            }
        }

        var inherited = RunErrors.ParentCancelled(runId, reason);
        foreach (var child in children)
        {
            CancelRun(writer, child, RunStatus.Cancelled, inherited, now);
        }

        return true;
    }
}

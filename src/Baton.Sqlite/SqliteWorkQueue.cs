using System.Text.Json;
using Baton.Storage;
using static Baton.Sqlite.SqliteDatabase;

namespace Baton.Sqlite;

internal sealed class SqliteWorkQueue(SqliteDatabase database) : IWorkQueue
{
    public Task<IReadOnlyList<ClaimedRun>> ClaimAsync(
        string owner,
        IReadOnlyCollection<string> functionIds,
        int max,
        TimeSpan leaseDuration,
        IReadOnlyDictionary<string, ConcurrencyRule> limits,
        IReadOnlyCollection<string>? queues,
        CancellationToken cancellationToken)
    {
        var served = queues is null ? null : JsonSerializer.Serialize(queues);
        var unlimited = JsonSerializer.Serialize(functionIds.Where(f => !limits.ContainsKey(f)));
        var limited = functionIds.Where(limits.ContainsKey).ToList();
        return database.Writer.WriteAsync<IReadOnlyList<ClaimedRun>>(w =>
        {
            var now = database.Time.GetUtcNow();

            // Limited functions first: the runs their free slots allow, keys taking turns. The single writer makes the
            // count and the claim one atomic step, so no other claim can take the same slots.
            var picked = new List<string>();
            foreach (var function in limited)
            {
                if (picked.Count < max)
                {
                    picked.AddRange(PickWithinLimits(w, function, limits[function], max - picked.Count, now, served));
                }
            }

            var leases = new List<(string RunId, long Token)>();
            if (picked.Count > 0)
            {
                ReadLeases(w.Command("""
                        UPDATE queue SET owner = @owner, token = token + 1, available_at = @until, woken = 0, debounce_key = NULL, batch_key = NULL
                        WHERE run_id IN (SELECT value FROM json_each(@picked))
                        RETURNING run_id, token;
                        """).With("@owner", owner).With("@until", Ms(now + leaseDuration)).With("@picked", JsonSerializer.Serialize(picked)), leases);
            }

            if (leases.Count < max)
            {
                ReadLeases(w.Command($"""
                        UPDATE queue SET owner = @owner, token = token + 1, available_at = @until, woken = 0, debounce_key = NULL, batch_key = NULL
                        WHERE run_id IN (
                            SELECT run_id FROM queue
                            WHERE available_at <= @now AND function_id IN (SELECT value FROM json_each(@functions)) AND {Servable}
                            ORDER BY available_at LIMIT @max)
                        RETURNING run_id, token;
                        """)
                    .With("@owner", owner).With("@until", Ms(now + leaseDuration)).With("@now", Ms(now))
                    .With("@functions", unlimited).With("@max", max - leases.Count).With("@queues", served), leases);
            }

            var claimed = new List<ClaimedRun>(leases.Count);
            foreach (var (runId, token) in leases)
            {
                using var reader = w.Command("""
                        UPDATE runs SET status = 1, started_at = COALESCE(started_at, @now) WHERE id = @run
                        RETURNING function_id, input, attempt, created_at, parent_run_id, started_at,
                            (SELECT finish_by FROM queue WHERE run_id = @run), (SELECT start_by FROM queue WHERE run_id = @run);
                        """)
                    .With("@now", Ms(now)).With("@run", runId)
                    .ExecuteReader();
                if (reader.Read())
                {
                    claimed.Add(new ClaimedRun(
                        new RunLease(runId, owner, token),
                        reader.GetString(0),
                        reader.GetString(1),
                        reader.GetInt32(2),
                        Time0(reader.GetInt64(3)),
                        StringOrNull(reader, 4),
                        TimeOrNull(reader, 5),
                        TimeOrNull(reader, 6),
                        TimeOrNull(reader, 7)));
                }
            }

            return claimed;
        });
    }

    /// <summary>The claim condition on a run's queue: served by this node (<c>@queues</c>, null: all) and not paused.</summary>
    private const string Servable =
        "(@queues IS NULL OR queue_name IN (SELECT value FROM json_each(@queues))) AND queue_name NOT IN (SELECT name FROM paused_queues)";

    /// <summary>How many due runs without a concurrency key a claim of a limited function considers.</summary>
    internal const int LimitedWindow = 2000;

    /// <summary>How many keys a claim considers: those whose oldest due run is oldest.</summary>
    internal const int KeyWindow = 500;

    /// <summary>
    /// The due runs of a limited function that its free slots allow: executing runs (leased, lease not expired) are
    /// counted per key; each key gets at most its free slots, and keys take turns (the first run of every key, then the
    /// second, ...) until the function's free slots or <paramref name="room"/> run out. Every key with a due run is a
    /// candidate, however many runs other keys have queued before it (up to <see cref="KeyWindow"/> keys, those whose
    /// oldest due run is oldest), so a busy key cannot starve the others.
    /// </summary>
    private static List<string> PickWithinLimits(SqliteWriter w, string function, ConcurrencyRule rule, int room, DateTimeOffset now, string? served)
    {
        var running = new Dictionary<string, int>(StringComparer.Ordinal);
        var total = 0;
        using (var reader = w.Command("""
                SELECT COALESCE(concurrency_key, ''), COUNT(*) FROM queue
                WHERE function_id = @function AND owner IS NOT NULL AND available_at > @now GROUP BY concurrency_key;
                """).With("@function", function).With("@now", Ms(now)).ExecuteReader())
        {
            while (reader.Read())
            {
                running[reader.GetString(0)] = reader.GetInt32(1);
                total += reader.GetInt32(1);
            }
        }

        var free = Math.Min(room, (rule.FunctionLimit ?? int.MaxValue) - total);
        if (free <= 0)
        {
            return [];
        }

        // Candidates: per key (those with a key: up to the key's free slots, read through the keyed index), and the
        // oldest runs without a key. Each gets its rank within its key.
        var candidates = new List<(string RunId, long Due, int Rank)>();
        void Read(Microsoft.Data.Sqlite.SqliteCommand command)
        {
            var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var key = reader.GetString(1);
                var rank = ranks[key] = ranks.GetValueOrDefault(key) + 1;
                if (rule.KeyLimit is not { } keyLimit || rank <= keyLimit - running.GetValueOrDefault(key))
                {
                    candidates.Add((reader.GetString(0), reader.GetInt64(2), rank));
                }
            }
        }

        if (rule.KeyLimit is { } perKey)
        {
            Read(w.Command($"""
                    WITH heads AS (
                        SELECT concurrency_key AS k, MIN(available_at) AS first FROM queue INDEXED BY queue_keyed
                        WHERE function_id = @function AND concurrency_key IS NOT NULL AND available_at <= @now AND {Servable}
                        GROUP BY concurrency_key ORDER BY first LIMIT @keys)
                    SELECT c.run_id, c.concurrency_key, c.available_at FROM heads h
                    JOIN queue c ON c.run_id IN (
                        SELECT run_id FROM queue INDEXED BY queue_keyed
                        WHERE function_id = @function AND concurrency_key IS NOT NULL AND concurrency_key = h.k AND available_at <= @now AND {Servable}
                        ORDER BY available_at LIMIT @per_key)
                    ORDER BY c.concurrency_key, c.available_at;
                    """).With("@function", function).With("@now", Ms(now)).With("@keys", KeyWindow).With("@per_key", Math.Min(perKey, free)).With("@queues", served));
        }

        Read(w.Command($"""
                SELECT run_id, '', available_at FROM queue
                WHERE function_id = @function AND concurrency_key IS NULL AND available_at <= @now AND {Servable} ORDER BY available_at LIMIT @window;
                """).With("@function", function).With("@now", Ms(now)).With("@window", LimitedWindow).With("@queues", served));

        return [.. candidates.OrderBy(c => c.Rank).ThenBy(c => c.Due).Take(free).Select(c => c.RunId)];
    }

    private static void ReadLeases(Microsoft.Data.Sqlite.SqliteCommand command, List<(string RunId, long Token)> into)
    {
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            into.Add((reader.GetString(0), reader.GetInt64(1)));
        }
    }

    public Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT MIN(available_at) FROM queue WHERE available_at > @now;";
        command.With("@now", Ms(database.Time.GetUtcNow()));
        return Task.FromResult(command.ExecuteScalar() is long ms ? Time0(ms) : (DateTimeOffset?)null);
    }

    public Task<IReadOnlySet<string>> RenewAsync(IReadOnlyCollection<RunLease> leases, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        if (leases.Count == 0)
        {
            return Task.FromResult<IReadOnlySet<string>>(new HashSet<string>());
        }

        var json = JsonSerializer.Serialize(leases.Select(l => new object[] { l.RunId, l.Owner, l.Token }));
        return database.Writer.WriteAsync<IReadOnlySet<string>>(w =>
        {
            var held = new HashSet<string>(StringComparer.Ordinal);
            using var reader = w.Command("""
                    UPDATE queue SET available_at = @until
                    WHERE (run_id, owner, token) IN (
                        SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(@leases))
                    RETURNING run_id;
                    """)
                .With("@until", Ms(database.Time.GetUtcNow() + leaseDuration)).With("@leases", json)
                .ExecuteReader();
            while (reader.Read())
            {
                held.Add(reader.GetString(0));
            }

            return held;
        });
    }

    public Task<int> ExpireLeasesAsync(string owner, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w => w.Command("UPDATE queue SET available_at = @now WHERE owner = @owner AND available_at > @now;")
            .With("@now", Ms(database.Time.GetUtcNow())).With("@owner", owner)
            .ExecuteNonQuery());

    // Processes sharing a SQLite file have no notification channel: they find each other's work by polling.
    public IDisposable SubscribeToWork(Action onWork, Action<string>? onCancelled = null) =>
        database.ChangePollInterval is { } interval ? new SqliteChangeWatcher(database, interval, onWork) : NoSubscription.Instance;

    public Task<IReadOnlyList<string>> LeaseOwnersAsync(CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT owner FROM queue WHERE owner IS NOT NULL;";
        using var reader = command.ExecuteReader();
        var owners = new List<string>();
        while (reader.Read())
        {
            owners.Add(reader.GetString(0));
        }

        return Task.FromResult<IReadOnlyList<string>>(owners);
    }

    public Task CheckpointAsync(RunLease lease, StepRecord step, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            var written = w.Command($"""
                    INSERT INTO steps(run_id, key, kind, status, output, error, attempts, started_at, ended_at, wake_at)
                    SELECT @run, @key, @kind, @status, @output, @error, @attempts, @started, @ended, @wake
                    WHERE EXISTS (SELECT 1 FROM queue WHERE {SqliteWrites.Leased})
                    ON CONFLICT(run_id, key) DO UPDATE SET
                        kind = excluded.kind, status = excluded.status, output = excluded.output, error = excluded.error,
                        attempts = excluded.attempts, ended_at = excluded.ended_at, wake_at = excluded.wake_at;
                    """)
                .WithLease(lease)
                .With("@key", step.Key).With("@kind", (int)step.Kind).With("@status", (int)step.Status)
                .With("@output", step.OutputJson).With("@error", ErrorToDb(step.Error)).With("@attempts", step.Attempts)
                .With("@started", Ms(step.StartedAt)).With("@ended", MsOrNull(step.EndedAt)).With("@wake", MsOrNull(step.WakeAt))
                .ExecuteNonQuery();
            return written == 1 ? true : throw new LeaseLostException(lease.RunId);
        });

    public Task SuspendAsync(RunLease lease, RunSuspension suspension, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w => Requeue(w, lease, suspension.WakeAt, suspension.Status, suspension.Attempt));

    public Task ReleaseAsync(RunLease lease, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w => Requeue(w, lease, database.Time.GetUtcNow(), RunStatus.Queued, null));

    public Task CompleteAsync(RunLease lease, RunCompletion completion, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            if (w.Command($"DELETE FROM queue WHERE {SqliteWrites.Leased};").WithLease(lease).ExecuteNonQuery() != 1)
            {
                throw new LeaseLostException(lease.RunId);
            }

            w.Command("UPDATE runs SET status = @status, output = @output, error = @error, ended_at = @ended WHERE id = @run;")
                .With("@status", (int)completion.Status).With("@output", completion.OutputJson)
                .With("@error", ErrorToDb(completion.Error)).With("@ended", Ms(completion.EndedAt)).With("@run", lease.RunId)
                .ExecuteNonQuery();

            // Waits the function left open (a wait it did not await to the end) die with the run.
            w.Command("DELETE FROM waits WHERE run_id = @run;").With("@run", lease.RunId).ExecuteNonQuery();
            SqliteWrites.ReportToParent(w, lease.RunId, completion.Status, completion.OutputJson, completion.Error, completion.EndedAt);
            SqliteWrites.AppendEvents(w, completion.Emitted, completion.EndedAt);
            return true;
        });

    private bool Requeue(SqliteWriter w, RunLease lease, DateTimeOffset due, RunStatus status, int? attempt)
    {
        // A wait resolved while the run was still leased ("woken") makes it due now rather than at its timeout.
        var now = Ms(database.Time.GetUtcNow());
        var available = w.Command($"""
                UPDATE queue SET owner = NULL, available_at = CASE WHEN woken = 1 AND @due > @now THEN @now ELSE @due END, woken = 0
                WHERE {SqliteWrites.Leased} RETURNING available_at;
                """).WithLease(lease).With("@due", Ms(due)).With("@now", now).ExecuteScalar();
        if (available is not long availableAt)
        {
            throw new LeaseLostException(lease.RunId);
        }

        w.Command("UPDATE runs SET status = @status, attempt = COALESCE(@attempt, attempt) WHERE id = @run;")
            .With("@status", availableAt <= now ? (int)RunStatus.Queued : (int)status).With("@attempt", attempt).With("@run", lease.RunId)
            .ExecuteNonQuery();
        return true;
    }

    public Task SetQueuePausedAsync(string queue, bool paused, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w => (paused
                ? w.Command("INSERT INTO paused_queues(name) VALUES (@name) ON CONFLICT DO NOTHING;")
                : w.Command("DELETE FROM paused_queues WHERE name = @name;"))
            .With("@name", queue).ExecuteNonQuery());

    public Task<IReadOnlyList<string>> PausedQueuesAsync(CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM paused_queues ORDER BY name;";
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        return Task.FromResult<IReadOnlyList<string>>(names);
    }

    public Task<IReadOnlyList<QueueStats>> ListQueuesAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT q.name,
                   COALESCE(SUM(owner IS NULL AND available_at <= @now), 0),
                   COALESCE(SUM(owner IS NOT NULL), 0),
                   COALESCE(SUM(owner IS NULL AND available_at > @now), 0),
                   EXISTS (SELECT 1 FROM paused_queues p WHERE p.name = q.name)
            FROM (SELECT queue_name AS name FROM queue UNION SELECT name FROM paused_queues) q
            LEFT JOIN queue ON queue.queue_name = q.name
            GROUP BY q.name ORDER BY q.name;
            """;
        command.With("@now", Ms(now));
        using var reader = command.ExecuteReader();
        var queues = new List<QueueStats>();
        while (reader.Read())
        {
            queues.Add(new QueueStats(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetBoolean(4)));
        }

        return Task.FromResult<IReadOnlyList<QueueStats>>(queues);
    }

    public Task SetFinishByAsync(RunLease lease, DateTimeOffset deadline, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w => w.Command($"UPDATE queue SET finish_by = COALESCE(finish_by, @deadline) WHERE {SqliteWrites.Leased};")
            .WithLease(lease).With("@deadline", Ms(deadline)).ExecuteNonQuery() == 1 ? true : throw new LeaseLostException(lease.RunId));

    public Task<IReadOnlyList<string>> OverdueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT run_id FROM queue WHERE finish_by <= @now ORDER BY finish_by LIMIT @max;";
        command.With("@now", Ms(now)).With("@max", max);
        using var reader = command.ExecuteReader();
        var runs = new List<string>();
        while (reader.Read())
        {
            runs.Add(reader.GetString(0));
        }

        return Task.FromResult<IReadOnlyList<string>>(runs);
    }

    public Task<StepRecord> WaitForEventAsync(RunLease lease, StepRecord waiting, EventWait wait, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            SqliteWrites.EnsureLeased(w, lease);
            using var input = System.Text.Json.JsonDocument.Parse(wait.TriggerInputJson);
            var matchValue = wait.MatchPath is { } path ? WaitMatching.MatchValue(input.RootElement[0].GetProperty("data"), path) : null;
            if (wait.LookbackFrom is { } from && FindInLookback(w, wait, matchValue, from) is { } earlier)
            {
                var (output, copyFrom, copyTo) = WaitMatching.Result(earlier);
                var resolved = waiting with { Status = StepStatus.Completed, OutputJson = output, EndedAt = database.Time.GetUtcNow() };
                WriteStep(w, lease.RunId, resolved);
                if (copyFrom is not null)
                {
                    SqliteWrites.CopyLargeValue(w, copyFrom, copyTo!, lease.RunId, resolved.EndedAt!.Value);
                }

                return resolved;
            }

            WriteStep(w, lease.RunId, waiting);
            w.Command("""
                    INSERT INTO waits(run_id, step_key, kind, event_name, match_path, match_value, condition, pending, created_at)
                    VALUES (@run, @key, 0, @name, @path, @value, @condition, 0, @now);
                    """)
                .With("@run", lease.RunId).With("@key", waiting.Key).With("@name", wait.EventName).With("@path", wait.MatchPath)
                .With("@value", matchValue).With("@condition", wait.Condition).With("@now", Ms(waiting.StartedAt))
                .ExecuteNonQuery();
            if (wait.MatchPath is not null)
            {
                w.Command("INSERT INTO wait_paths(event_name, match_path) VALUES (@name, @path) ON CONFLICT DO NOTHING;")
                    .With("@name", wait.EventName).With("@path", wait.MatchPath).ExecuteNonQuery();
            }

            return waiting;
        });

    public Task<StepRecord> ExpireWaitAsync(RunLease lease, StepRecord expired, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            SqliteWrites.EnsureLeased(w, lease);
            if (w.Command("DELETE FROM waits WHERE run_id = @run AND step_key = @key;").With("@run", lease.RunId).With("@key", expired.Key).ExecuteNonQuery() == 1)
            {
                WriteStep(w, lease.RunId, expired);
                return expired;
            }

            // The wait was resolved first: its outcome stands.
            return SqliteRunStore.ReadStep(w.Command("""
                    SELECT key, kind, status, output, error, attempts, started_at, ended_at, wake_at
                    FROM steps WHERE run_id = @run AND key = @key;
                    """).With("@run", lease.RunId).With("@key", expired.Key)) ?? expired;
        });

    public Task StartChildrenAsync(RunLease lease, StepRecord waiting, WaitKind kind, IReadOnlyList<NewRun> children, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            SqliteWrites.EnsureLeased(w, lease);
            WriteStep(w, lease.RunId, waiting);
            w.Command("INSERT INTO waits(run_id, step_key, kind, pending, created_at) VALUES (@run, @key, @kind, @pending, @now);")
                .With("@run", lease.RunId).With("@key", waiting.Key).With("@kind", (int)kind).With("@pending", children.Count)
                .With("@now", Ms(waiting.StartedAt))
                .ExecuteNonQuery();
            foreach (var child in children)
            {
                SqliteWrites.InsertRun(w, child);
            }

            return true;
        });

    private static void WriteStep(SqliteWriter w, string runId, StepRecord step) => SqliteWrites.WriteStep(w, runId, step);

    /// <summary>The first event received since <paramref name="from"/> that the wait would have matched.</summary>
    private static EventRecord? FindInLookback(SqliteWriter w, EventWait wait, string? matchValue, DateTimeOffset from)
    {
        if (wait.MatchPath is not null && matchValue is null)
        {
            return null;
        }

        // A string match value (the common case: ids) narrows the scan in SQL; the exact comparison is made below, on the
        // data as sent (read back for data stored out of line).
        var text = matchValue is ['"', ..] ? System.Text.Json.JsonSerializer.Deserialize<string>(matchValue) : null;
        // Events whose data is stored out of line cannot be narrowed in SQL: the first LargeEventData.MaxLookbackReads
        // of them are read back and matched here.
        var rows = new List<EventRecord>();
        foreach (var sql in new[]
        {
            """
            SELECT id, name, data, ts, received_at FROM events
            WHERE name = @name AND received_at >= @from AND (@text IS NULL OR json_extract(data, @json_path) = @text) AND data NOT LIKE @large
            ORDER BY received_at LIMIT 10000;
            """,
            """
            SELECT id, name, data, ts, received_at FROM events
            WHERE name = @name AND received_at >= @from AND data LIKE @large
            ORDER BY received_at LIMIT @reads;
            """,
        })
        {
            using var reader = w.Command(sql).With("@name", wait.EventName).With("@from", Ms(from))
                .With("@large", LargeEventData.ReferencePrefix + "%").With("@reads", LargeEventData.MaxLookbackReads)
                .With("@text", text).With("@json_path", text is null ? null : "$." + string.Join('.', WaitMatching.DataSegments(wait.MatchPath!).Select(s => $"\"{s}\"")))
                .ExecuteReader();
            while (reader.Read())
            {
                rows.Add(new EventRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), Time0(reader.GetInt64(3)), Time0(reader.GetInt64(4))));
            }
        }

        var events = rows
            .OrderBy(e => e.ReceivedAt)
            .Select(e => LargeEventData.TryParse(e.DataJson, out var id, out _)
                ? e with { DataJson = SqliteWrites.LoadValue(w, id), StoredDataJson = e.DataJson }
                : e)
            .Where(e => wait.MatchPath is null || WaitMatching.MatchValue(e.DataJson, wait.MatchPath) == matchValue)
            .ToList();

        var candidates = events.Select((_, i) => new WaitCandidate(i, "", "", wait.Condition, wait.TriggerInputJson)).ToList();
        return WaitMatching.Choose(events, candidates) is [var (_, first), ..] ? first : null;
    }
}

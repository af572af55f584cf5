using Baton.Storage;
using Npgsql;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

internal sealed class PostgreSqlWorkQueue(PostgreSqlDatabase database, Microsoft.Extensions.Logging.ILogger logger) : IWorkQueue
{
    // The lease condition every leased write carries: the run is still queued, ours, and not claimed again since.
    private const string Leased = "run_id = @run AND owner = @owner AND token = @token";

    // What a folded checkpoint reports for each of its rows: written, or not (its lease was lost).
    private static readonly PgResult StepWritten = new([], 1);
    private static readonly PgResult StepNotWritten = new([], 0);

    // A checkpoint's statement, alone and folded, built once per queue (the schema never changes): built per call, its
    // text was about a quarter of the bytes a step of a busy node allocated.
    private readonly StepStatement _upsertStep = new(database.Schema, replaces: true);
    private readonly StepStatement _insertStep = new(database.Schema, replaces: false);

    // A run's end: the statement's common part (the lease check, the end, its waits), and the whole statement when it
    // emits no event (most ends), built once per queue like the checkpoint's.
    private readonly string _completionPrefix = CompletionPrefix(database.Schema);
    private readonly string _completionAlone = $"{CompletionPrefix(database.Schema)} SELECT (SELECT COUNT(*) FROM done), (SELECT parent_run_id FROM ended), (SELECT parent_step FROM ended), ARRAY[]::text[]";
    private readonly string _completionKind = $"complete:{database.Schema}";

    private string S => database.Schema;

    internal PostgreSqlTableStatistics Statistics { get; } = new(database, "queue", logger);

    public async Task<IReadOnlyList<ClaimedRun>> ClaimAsync(
        string owner,
        IReadOnlyCollection<string> functionIds,
        int max,
        TimeSpan leaseDuration,
        IReadOnlyDictionary<string, ConcurrencyRule> limits,
        IReadOnlyCollection<string>? queues,
        CancellationToken cancellationToken)
    {
        var claimed = await ClaimDueAsync(owner, functionIds, max, leaseDuration, limits, queues).ConfigureAwait(false);
        if (claimed.Count >= max)
        {
            // More may be due than one claim takes: a backlog, for which the claim's plan must be right (see the class).
            Statistics.MayHaveGrown();
        }

        return claimed;
    }

    private Task<IReadOnlyList<ClaimedRun>> ClaimDueAsync(
        string owner,
        IReadOnlyCollection<string> functionIds,
        int max,
        TimeSpan leaseDuration,
        IReadOnlyDictionary<string, ConcurrencyRule> limits,
        IReadOnlyCollection<string>? queues)
    {
        var now = database.Time.GetUtcNow();
        var served = queues?.ToArray();
        var unlimited = functionIds.Where(f => !limits.ContainsKey(f)).ToArray();
        var limited = functionIds.Where(limits.ContainsKey).Order(StringComparer.Ordinal).ToArray();
        var limitedClaim = limited.Length == 0 ? null : new List<PgCommand>
        {
            // Claims of a limited function serialize on a lock of its own, so two nodes never count the same free slot.
            // Every key with a due run is a candidate (up to 500 keys, oldest due run first; up to its limit each), so a
            // busy key's backlog cannot starve the others; runs without a key are read oldest first.
            // Locks are taken in one order (sorted), so claimers cannot deadlock on each other.
            new PgCommand($"SELECT pg_advisory_xact_lock(hashtext(@prefix || f)) FROM (SELECT unnest(@functions) AS f ORDER BY 1) l", returnsRows: true)
                .With("prefix", $"baton-concurrency:{S}:").With("functions", limited),
            ClaimCommand($"""
                    lim AS (
                        SELECT * FROM unnest(@limited, @fn_limits, @key_limits) AS l(function_id, fn_limit, key_limit)),
                    running AS (
                        SELECT q.function_id, COALESCE(q.concurrency_key, '') AS k, COUNT(*) AS n FROM {S}.queue q
                        WHERE q.function_id = ANY(@limited) AND q.owner IS NOT NULL AND q.available_at > @now
                        GROUP BY 1, 2),
                    heads AS (
                        SELECT function_id, concurrency_key AS k, MIN(available_at) AS first FROM {S}.queue
                        WHERE available_at <= @now AND function_id = ANY(@limited) AND concurrency_key IS NOT NULL AND {Servable}
                        GROUP BY 1, 2 ORDER BY 3 LIMIT @keys),
                    keyed AS (
                        SELECT q.run_id, q.function_id, q.concurrency_key AS k, q.available_at FROM {S}.queue q
                        WHERE q.run_id IN (
                            SELECT c.run_id FROM heads h
                            CROSS JOIN LATERAL (
                                SELECT run_id FROM {S}.queue
                                WHERE function_id = h.function_id AND concurrency_key = h.k AND available_at <= @now AND {Servable}
                                ORDER BY available_at LIMIT @per_key) c)
                        FOR UPDATE OF q SKIP LOCKED),
                    unkeyed AS (
                        SELECT run_id, function_id, '' AS k, available_at FROM {S}.queue
                        WHERE available_at <= @now AND function_id = ANY(@limited) AND concurrency_key IS NULL AND {Servable}
                        ORDER BY available_at LIMIT @window
                        FOR UPDATE SKIP LOCKED),
                    window_rows AS (
                        SELECT * FROM keyed UNION ALL SELECT * FROM unkeyed),
                    ranked AS (
                        SELECT w.*, ROW_NUMBER() OVER (PARTITION BY w.function_id, w.k ORDER BY w.available_at) AS key_rank
                        FROM window_rows w),
                    eligible AS (
                        SELECT r.*, ROW_NUMBER() OVER (PARTITION BY r.function_id ORDER BY r.key_rank, r.available_at) AS fn_rank
                        FROM ranked r JOIN lim l USING (function_id)
                        WHERE l.key_limit IS NULL
                           OR r.key_rank <= l.key_limit - COALESCE((SELECT n FROM running x WHERE x.function_id = r.function_id AND x.k = r.k), 0)),
                    due AS (
                        SELECT e.run_id FROM eligible e JOIN lim l USING (function_id)
                        WHERE l.fn_limit IS NULL
                           OR e.fn_rank <= l.fn_limit - COALESCE((SELECT SUM(n) FROM running x WHERE x.function_id = e.function_id), 0)
                        ORDER BY e.fn_rank, e.available_at LIMIT @max)
                    """, owner, now, leaseDuration, max)
                .With("limited", limited)
                .With("fn_limits", limited.Select(f => limits[f].FunctionLimit).ToArray())
                .With("key_limits", limited.Select(f => limits[f].KeyLimit).ToArray())
                .With("window", 2000)
                .With("keys", 500)
                .With("per_key", Math.Min(max, limited.Max(f => limits[f].KeyLimit ?? 1)))
                .With("queues", served),
        };

        // SKIP LOCKED: nodes claiming at the same moment take different runs instead of waiting on each other.
        PgCommand UnlimitedClaim(int room) => ClaimCommand($"""
                due AS (
                    SELECT run_id FROM {S}.queue
                    WHERE available_at <= @now AND function_id = ANY(@functions) AND {Servable}
                    ORDER BY available_at LIMIT @max
                    FOR UPDATE SKIP LOCKED)
                """, owner, now, leaseDuration, room).With("functions", unlimited).With("queues", served);

        if (limitedClaim is null)
        {
            return database.Writer.WriteAsync<IReadOnlyList<ClaimedRun>>([UnlimitedClaim(max)], results => ReadClaimed(results[0], owner));
        }

        // Limited functions first; the unlimited ones fill the room left, in a second round of the same transaction.
        return database.Writer.WriteAsync(new PgRound<IReadOnlyList<ClaimedRun>>(limitedClaim, results =>
        {
            var claimed = ReadClaimed(results[1], owner);
            return unlimited.Length == 0 || claimed.Count >= max
                ? PgNext<IReadOnlyList<ClaimedRun>>.Done(claimed)
                : PgNext<IReadOnlyList<ClaimedRun>>.More(new([UnlimitedClaim(max - claimed.Count)], more => PgNext<IReadOnlyList<ClaimedRun>>.Done([.. claimed, .. ReadClaimed(more[0], owner)])));
        }));
    }

    /// <summary>The claim condition on a run's queue: served by this node (<c>@queues</c>, null: all) and not paused.</summary>
    private string Servable => $"(@queues::text[] IS NULL OR queue_name = ANY(@queues)) AND queue_name NOT IN (SELECT name FROM {S}.paused_queues)";

    public Task SetQueuePausedAsync(string queue, bool paused, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            paused
                ? new PgCommand($"INSERT INTO {S}.paused_queues (name) VALUES (@name) ON CONFLICT DO NOTHING").With("name", queue)
                : new PgCommand($"DELETE FROM {S}.paused_queues WHERE name = @name").With("name", queue),
            _ => true,
            notifiesWork: !paused);

    public async Task<IReadOnlyList<string>> PausedQueuesAsync(CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT name FROM {S}.paused_queues ORDER BY name;", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var names = new List<string>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                names.Add(reader.GetString(0));
            }

            return names;
        }
    }

    public async Task<IReadOnlyList<QueueStats>> ListQueuesAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT q.name,
                   COUNT(*) FILTER (WHERE queue.run_id IS NOT NULL AND owner IS NULL AND available_at <= @now),
                   COUNT(*) FILTER (WHERE owner IS NOT NULL),
                   COUNT(*) FILTER (WHERE queue.run_id IS NOT NULL AND owner IS NULL AND available_at > @now),
                   EXISTS (SELECT 1 FROM {S}.paused_queues p WHERE p.name = q.name)
            FROM (SELECT queue_name AS name FROM {S}.queue UNION SELECT name FROM {S}.paused_queues) q
            LEFT JOIN {S}.queue ON queue.queue_name = q.name
            GROUP BY q.name ORDER BY q.name;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("now", Ms(now));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var queues = new List<QueueStats>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                queues.Add(new QueueStats(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetBoolean(4)));
            }

            return queues;
        }
    }

    private static List<ClaimedRun> ReadClaimed(PgResult result, string owner) =>
        [.. result.Rows.Select(r => new ClaimedRun(
            new RunLease((string)r[0]!, owner, (long)r[1]!),
            (string)r[2]!,
            (string)r[3]!,
            (int)r[4]!,
            Time0((long)r[5]!),
            (string?)r[6],
            r[7] is long started ? Time0(started) : null,
            r[8] is long finishBy ? Time0(finishBy) : null,
            r[9] is long startBy ? Time0(startBy) : null,
            (long)r[1]! > 1 ? ReadJournal(r[10] as string) : null))];

    /// <summary>A journal read with a claim: a JSON array of step rows (key, kind, status, output, error, attempts, times), or null for none.</summary>
    private static List<StepRecord> ReadJournal(string? json)
    {
        if (json is null)
        {
            return [];
        }

        using var document = System.Text.Json.JsonDocument.Parse(json);
        static DateTimeOffset? Time(System.Text.Json.JsonElement e) => e.ValueKind == System.Text.Json.JsonValueKind.Null ? null : Time0(e.GetInt64());
        return [.. document.RootElement.EnumerateArray().Select(s => new StepRecord(
            s[0].GetString()!,
            (StepKind)s[1].GetInt32(),
            (StepStatus)s[2].GetInt32(),
            s[3].GetString(),
            ErrorFromText(s[4].GetString()),
            s[5].GetInt32(),
            Time0(s[6].GetInt64()),
            Time(s[7]),
            Time(s[8])))];
    }

    /// <summary>A claim statement: <paramref name="due"/> is CTEs ending in <c>due(run_id)</c>, the runs to lease.</summary>
    /// <remarks>
    /// The claimed rows are found by key (<c>= ANY(ARRAY(...))</c>), not by a join with the CTEs: for a join the planner
    /// takes a claim of 128 runs for a large share of the tables and hashes them against sequential scans of the whole
    /// queue and runs tables, so each claim cost time in proportion to the backlog (14 ms for 128 runs over a backlog of
    /// 10,000, 6 ms by key).
    /// </remarks>
    private PgCommand ClaimCommand(string due, string owner, DateTimeOffset now, TimeSpan leaseDuration, int max) =>
        new PgCommand($"""
                WITH {due},
                claimed AS (
                    UPDATE {S}.queue q SET owner = @owner, token = q.token + 1, available_at = @until, woken = 0, debounce_key = NULL, batch_key = NULL
                    WHERE q.run_id = ANY(ARRAY(SELECT run_id FROM due))
                    RETURNING q.run_id, q.token, q.finish_by, q.start_by)
                UPDATE {S}.runs r SET status = 1, started_at = COALESCE(r.started_at, @now)
                FROM claimed WHERE r.id = claimed.run_id AND r.id = ANY(ARRAY(SELECT run_id FROM claimed))
                RETURNING r.id, claimed.token, r.function_id, r.input, r.attempt, r.created_at, r.parent_run_id, r.started_at, claimed.finish_by, claimed.start_by,
                    -- A run that executed before replays its journal: read here, it saves the worker a query per run.
                    CASE WHEN claimed.token > 1 THEN (
                        SELECT json_agg(json_build_array(s.key, s.kind, s.status, s.output, s.error, s.attempts, s.started_at, s.ended_at, s.wake_at) ORDER BY s.seq)::text
                        FROM {S}.steps s WHERE s.run_id = r.id) END
                """, returnsRows: true)
            .With("owner", owner).With("until", Ms(now + leaseDuration)).With("now", Ms(now)).With("max", max);

    public async Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT MIN(available_at) FROM {S}.queue WHERE available_at > @now;", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("now", Ms(database.Time.GetUtcNow()));
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long ms ? Time0(ms) : null;
        }
    }

    public Task<IReadOnlySet<string>> RenewAsync(IReadOnlyCollection<RunLease> leases, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        if (leases.Count == 0)
        {
            return Task.FromResult<IReadOnlySet<string>>(new HashSet<string>());
        }

        var command = new PgCommand($"""
                UPDATE {S}.queue q SET available_at = @until
                FROM unnest(@runs, @owners, @tokens) AS l(run_id, owner, token)
                WHERE q.run_id = l.run_id AND q.owner = l.owner AND q.token = l.token
                RETURNING q.run_id
                """, returnsRows: true)
            .With("until", Ms(database.Time.GetUtcNow() + leaseDuration))
            .With("runs", leases.Select(l => l.RunId).ToArray())
            .With("owners", leases.Select(l => l.Owner).ToArray())
            .With("tokens", leases.Select(l => l.Token).ToArray());
        return database.Writer.WriteAsync<IReadOnlySet<string>>(command, result => result.Rows.Select(r => (string)r[0]!).ToHashSet(StringComparer.Ordinal));
    }

    public Task<int> ExpireLeasesAsync(string owner, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            new PgCommand($"UPDATE {S}.queue SET available_at = @now WHERE owner = @owner AND available_at > @now")
                .With("now", Ms(database.Time.GetUtcNow())).With("owner", owner),
            result => result.RecordsAffected,
            notifiesWork: true);

    public IDisposable SubscribeToWork(Action onWork, Action<string>? onCancelled = null) => new PostgreSqlListener(database, onWork, onCancelled, logger);

    public async Task<IReadOnlyList<string>> LeaseOwnersAsync(CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT DISTINCT owner FROM {S}.queue WHERE owner IS NOT NULL;", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var owners = new List<string>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                owners.Add(reader.GetString(0));
            }

            return owners;
        }
    }

    public async Task CheckpointAsync(RunLease lease, StepRecord step, CancellationToken cancellationToken)
    {
        if (step is { Kind: StepKind.Run, Attempts: 1 })
        {
            // A step's first attempt has no journal entry yet: a plain insert skips the upsert's speculative insertion
            // (a unique-index probe, a lock and a confirming WAL record per row). Should one exist after all, the
            // insert fails alone (see PostgreSqlWriter) and the upsert below writes it.
            try
            {
                await WriteStepAsync(lease, step, replaces: false).ConfigureAwait(false);
                return;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                // Written before after all: the upsert replaces it.
            }
        }

        await WriteStepAsync(lease, step, replaces: true).ConfigureAwait(false);
    }

    private Task WriteStepAsync(RunLease lease, StepRecord step, bool replaces) =>
        database.Writer.WriteAsync(FencedStep(lease, step, replaces), result => result.RecordsAffected == 1 ? true : throw new LeaseLostException(lease.RunId), lockFree: true);

    public Task SuspendAsync(RunLease lease, RunSuspension suspension, CancellationToken cancellationToken) =>
        Requeue(lease, suspension.WakeAt, suspension.Status, suspension.Attempt);

    public Task ReleaseAsync(RunLease lease, CancellationToken cancellationToken) =>
        Requeue(lease, database.Time.GetUtcNow(), RunStatus.Queued, null);

    private static string CompletionPrefix(string s) => $"""
        WITH done AS (
            DELETE FROM {s}.queue WHERE {Leased} RETURNING run_id),
        ended AS (
            UPDATE {s}.runs SET status = @status, output = @output, error = @error, ended_at = @ended
            WHERE id = (SELECT run_id FROM done)
            RETURNING parent_run_id, parent_step),
        unwaited AS (
            DELETE FROM {s}.waits WHERE run_id = (SELECT run_id FROM done))
        """;

    public Task CompleteAsync(RunLease lease, RunCompletion completion, CancellationToken cancellationToken)
    {
        // One statement: the lease check, the end of the run, its waits and the emitted events (with their runs) succeed
        // together or write nothing. A second round reports to a parent and resolves waits the emitted events match.
        var command = completion.Emitted.Count == 0
            ? new PgCommand(_completionAlone, returnsRows: true)
            {
                // The common end, with no event to append: ends of many runs in one round go as one statement (PgMerge).
                Merge = new PgMerge(_completionKind, lease.RunId, (lease, completion), Completions, SplitCompletion),
            }
            : PostgreSqlWrites.AppendEvents(S, [.. completion.Emitted.Select(e => e with { Runs = [.. e.Runs.Where(r => r.BatchKey is null)] })], _completionPrefix, "EXISTS (SELECT 1 FROM done)",
                "SELECT (SELECT COUNT(*) FROM done), (SELECT parent_run_id FROM ended), (SELECT parent_step FROM ended), ARRAY(SELECT id FROM new_events)");
        command.WithLease(lease)
            .With("status", (int)completion.Status).With("output", completion.OutputJson)
            .With("error", ErrorToDb(completion.Error)).With("ended", Ms(completion.EndedAt));
        var emitted = completion.Emitted.Select(e => e.Event).ToList();

        // Most runs emit nothing (lifecycle events are stored only when something triggers on them): no waits to find.
        PgCommand[] commands = emitted.Count == 0 ? [command] : [command, PostgreSqlWrites.FindWaits(S, emitted)];
        return database.Writer.WriteAsync(new PgRound<bool>(
            commands,
            results =>
            {
                var row = results[0].Rows[0];
                if ((long)row[0]! != 1)
                {
                    throw new LeaseLostException(lease.RunId);
                }

                var inserted = ((string[])row[3]!).ToHashSet(StringComparer.Ordinal);
                var accepted = emitted.Select(e => inserted.Contains(e.Id)).ToList();
                var resolution = emitted.Count == 0 ? null : PostgreSqlWrites.Resolution(S, emitted, accepted, results[1], completion.EndedAt, true);
                PgNext<bool> Rest()
                {
                    if (row[1] is not string parent)
                    {
                        return resolution is null ? PgNext<bool>.Done(true) : PgNext<bool>.More(resolution);
                    }

                    var report = PostgreSqlWrites.ReportToParent(S, parent, (string)row[2]!, lease.RunId, completion.Status, completion.OutputJson, completion.Error, completion.EndedAt);
                    return PgNext<bool>.More(new(report, _ => resolution is null ? PgNext<bool>.Done(true) : PgNext<bool>.More(resolution), NotifiesWork: true));
                }

                // Runs of batching functions join their batches once it is known which emitted events are new.
                var batched = completion.Emitted.Where(e => inserted.Contains(e.Event.Id)).SelectMany(e => e.Runs.Where(r => r.BatchKey is not null)).ToList();
                return batched.Count == 0 ? Rest() : PgNext<bool>.More(new(PostgreSqlWrites.JoinBatches(S, batched), _ => Rest(), NotifiesWork: true));
            },
            NotifiesWork: completion.Emitted.Any(e => e.Runs.Count > 0),
            // Most ends emit nothing and have no parent to report to: their round is the last, so the batch's commit
            // goes with it instead of taking a round trip of its own.
            Final: emitted.Count == 0 && !completion.MayHaveParent));
    }

    /// <summary>The ends of several runs that emit no event, each only if its lease holds; returns the runs ended.</summary>
    /// <remarks>The ended runs are found by key (<c>= ANY(ARRAY(...))</c>; see <see cref="ClaimCommand"/>): with
    /// <c>IN (SELECT ...)</c> the planner joined them against a rescan of the values per row, 6.5 ms for 61 ends
    /// against 2.8-4.0 ms by key on the same data.</remarks>
    private PgCommand Completions(IReadOnlyList<object> rows)
    {
        var parts = rows.Cast<(RunLease Lease, RunCompletion Completion)>().ToList();
        return new PgCommand($"""
                WITH v AS (
                    SELECT * FROM unnest(@runs, @owners, @tokens, @statuses, @outputs, @errors, @endeds)
                        AS v(run_id, owner, token, status, output, error, ended)),
                done AS (
                    DELETE FROM {S}.queue q USING v WHERE q.run_id = v.run_id AND q.owner = v.owner AND q.token = v.token
                    RETURNING q.run_id),
                ended AS (
                    UPDATE {S}.runs r SET status = v.status, output = v.output, error = v.error, ended_at = v.ended
                    FROM v WHERE r.id = v.run_id AND r.id = ANY(ARRAY(SELECT run_id FROM done))
                    RETURNING r.id, r.parent_run_id, r.parent_step),
                unwaited AS (
                    DELETE FROM {S}.waits WHERE run_id = ANY(ARRAY(SELECT run_id FROM done)))
                SELECT id, parent_run_id, parent_step FROM ended
                """, returnsRows: true)
            .With("runs", parts.Select(p => p.Lease.RunId).ToArray())
            .With("owners", parts.Select(p => p.Lease.Owner).ToArray())
            .With("tokens", parts.Select(p => p.Lease.Token).ToArray())
            .With("statuses", parts.Select(p => (int)p.Completion.Status).ToArray())
            .With("outputs", parts.Select(p => p.Completion.OutputJson).ToArray())
            .With("errors", parts.Select(p => ErrorToDb(p.Completion.Error)).ToArray())
            .With("endeds", parts.Select(p => Ms(p.Completion.EndedAt)).ToArray());
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<PgResult, Dictionary<string, object?[]>> EndedRuns = [];

    /// <summary>The row the single statement would have returned: (ended 1 or 0, parent run, parent step, no events).</summary>
    private static PgResult SplitCompletion(PgResult folded, object row)
    {
        var ((runId, _, _), _) = ((RunLease, RunCompletion))row;
        var ended = EndedRuns.GetValue(folded, f => f.Rows.ToDictionary(r => (string)r[0]!, StringComparer.Ordinal));
        return new PgResult(
            [ended.TryGetValue(runId, out var r) ? [1L, r[1], r[2], Array.Empty<string>()] : [0L, null, null, Array.Empty<string>()]],
            1);
    }

    public Task SetFinishByAsync(RunLease lease, DateTimeOffset deadline, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            new PgCommand($"UPDATE {S}.queue SET finish_by = COALESCE(finish_by, @deadline) WHERE {Leased}").WithLease(lease).With("deadline", Ms(deadline)),
            result => result.RecordsAffected == 1 ? true : throw new LeaseLostException(lease.RunId));

    public async Task<IReadOnlyList<string>> OverdueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT run_id FROM {S}.queue WHERE finish_by <= @now ORDER BY finish_by LIMIT @max;", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("now", Ms(now)).With("max", max);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var runs = new List<string>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                runs.Add(reader.GetString(0));
            }

            return runs;
        }
    }

    public Task<StepRecord> WaitForEventAsync(RunLease lease, StepRecord waiting, EventWait wait, CancellationToken cancellationToken)
    {
        string triggerData;
        using (var input = System.Text.Json.JsonDocument.Parse(wait.TriggerInputJson))
        {
            triggerData = input.RootElement[0].GetProperty("data").GetRawText();
        }

        var register = new PgCommand($"""
                WITH lease AS (SELECT 1 FROM {S}.queue WHERE {Leased}),
                step AS ({UpsertStep(S)} WHERE EXISTS (SELECT 1 FROM lease) {OnStepConflict}),
                wait AS (
                    INSERT INTO {S}.waits (run_id, step_key, kind, event_name, match_path, match_value, condition, pending, created_at)
                    SELECT @run, @key, 0, @name, @path, CASE WHEN @path IS NULL THEN NULL ELSE {S}.match_value(@trigger, @path) END, @condition, 0, @started
                    WHERE EXISTS (SELECT 1 FROM lease)
                    ON CONFLICT DO NOTHING),
                path AS (
                    INSERT INTO {S}.wait_paths (event_name, match_path)
                    SELECT @name, @path WHERE @path IS NOT NULL AND EXISTS (SELECT 1 FROM lease)
                    ON CONFLICT DO NOTHING)
                SELECT COUNT(*) FROM lease
                """, returnsRows: true)
            .WithLease(lease).WithStep(waiting)
            .With("name", wait.EventName).With("path", wait.MatchPath).With("condition", wait.Condition).With("trigger", triggerData);
        var registered = new PgRound<StepRecord>([register], results => (long)results[0].Rows[0][0]! == 1
            ? PgNext<StepRecord>.Done(waiting)
            : throw new LeaseLostException(lease.RunId));
        if (wait.LookbackFrom is not { } from)
        {
            return database.Writer.WriteAsync(registered);
        }

        // Look-back: events already stored that match decide first (conditions are evaluated in .NET between the rounds).
        // Events whose data is stored out of line are read back, in a round of their own, and matched here.
        var earlier = new PgCommand($"""
                (SELECT id, name, data, ts, received_at FROM {S}.events
                WHERE name = @name AND received_at >= @from AND NOT starts_with(data, @large)
                  AND (@path IS NULL OR {S}.match_value(data, @path) = {S}.match_value(@trigger, @path))
                ORDER BY received_at LIMIT 10000)
                UNION ALL
                (SELECT id, name, data, ts, received_at FROM {S}.events
                WHERE name = @name AND received_at >= @from AND starts_with(data, @large)
                ORDER BY received_at LIMIT @reads)
                ORDER BY received_at
                """, returnsRows: true)
            .With("name", wait.EventName).With("from", Ms(from)).With("path", wait.MatchPath).With("trigger", triggerData)
            .With("large", LargeEventData.ReferencePrefix).With("reads", LargeEventData.MaxLookbackReads);
        PgNext<StepRecord> Decide(IReadOnlyList<EventRecord> events)
        {
            // Rows stored inline were matched by SQL; read-back ones are matched here.
            var matchValue = wait.MatchPath is { } path ? WaitMatching.MatchValue(triggerData, path) : null;
            events = [.. events.Where(e => wait.MatchPath is null || e.StoredDataJson is null
                || (matchValue is not null && WaitMatching.MatchValue(e.DataJson, wait.MatchPath) == matchValue))];
            var candidates = events.Select((_, i) => new WaitCandidate(i, "", "", wait.Condition, wait.TriggerInputJson)).ToList();
            if (WaitMatching.Choose(events, candidates) is not [var (_, first), ..])
            {
                return PgNext<StepRecord>.More(registered);
            }

            var (output, copyFrom, copyTo) = WaitMatching.Result(first);
            var resolved = waiting with { Status = StepStatus.Completed, OutputJson = output, EndedAt = database.Time.GetUtcNow() };
            PgCommand[] commands = copyFrom is null
                ? [FencedStep(lease, resolved)]
                : [FencedStep(lease, resolved), PostgreSqlWrites.CopyValue(S, copyFrom, copyTo!, lease.RunId, resolved.EndedAt!.Value)];
            return PgNext<StepRecord>.More(new(commands, r => r[0].RecordsAffected == 1
                ? PgNext<StepRecord>.Done(resolved)
                : throw new LeaseLostException(lease.RunId)));
        }

        return database.Writer.WriteAsync(new PgRound<StepRecord>([earlier], results =>
        {
            var events = results[0].Rows
                .Select(r => new EventRecord((string)r[0]!, (string)r[1]!, (string)r[2]!, Time0((long)r[3]!), Time0((long)r[4]!)))
                .ToList();
            var large = events.Select(e => LargeEventData.TryParse(e.DataJson, out var id, out _) ? id : null).OfType<string>().ToArray();
            if (large.Length == 0)
            {
                return Decide(events);
            }

            return PgNext<StepRecord>.More(new([PostgreSqlWrites.LoadValues(S, large)], loaded =>
            {
                var values = PostgreSqlWrites.Values(loaded[0]);
                return Decide([.. events.Select(e => LargeEventData.TryParse(e.DataJson, out var id, out _)
                    ? e with { DataJson = PostgreSqlWrites.Value(values, id), StoredDataJson = e.DataJson }
                    : e)]);
            }));
        }));
    }

    public Task<StepRecord> ExpireWaitAsync(RunLease lease, StepRecord expired, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            new PgCommand($"""
                    WITH lease AS (SELECT 1 FROM {S}.queue WHERE {Leased}),
                    gone AS (
                        DELETE FROM {S}.waits WHERE run_id = @run AND step_key = @key AND EXISTS (SELECT 1 FROM lease)
                        RETURNING 1),
                    ended AS (
                        UPDATE {S}.steps SET status = @status, output = @output, error = @error, ended_at = @ended
                        WHERE run_id = @run AND key = @key AND EXISTS (SELECT 1 FROM gone))
                    SELECT (SELECT COUNT(*) FROM lease), (SELECT COUNT(*) FROM gone), s.status, s.output, s.error, s.ended_at
                    FROM {S}.steps s WHERE s.run_id = @run AND s.key = @key
                    """, returnsRows: true)
                .WithLease(lease).WithStep(expired),
            result =>
            {
                if (result.Rows.Count == 0 || (long)result.Rows[0][0]! != 1)
                {
                    throw new LeaseLostException(lease.RunId);
                }

                var row = result.Rows[0];

                // Not removed by us: the wait was resolved first and its outcome stands. (Read at the statement's start,
                // it may still show "waiting" if the resolver committed meanwhile; the run then suspends and is woken.)
                return (long)row[1]! == 1
                    ? expired
                    : expired with { Status = (StepStatus)(int)row[2]!, OutputJson = (string?)row[3], Error = ErrorFromText((string?)row[4]), EndedAt = row[5] is long ms ? Time0(ms) : null };
            });

    public Task StartChildrenAsync(RunLease lease, StepRecord waiting, WaitKind kind, IReadOnlyList<NewRun> children, CancellationToken cancellationToken)
    {
        var command = new PgCommand($"""
                WITH lease AS (SELECT 1 FROM {S}.queue WHERE {Leased}),
                step AS ({UpsertStep(S)} WHERE EXISTS (SELECT 1 FROM lease) {OnStepConflict}),
                wait AS (
                    INSERT INTO {S}.waits (run_id, step_key, kind, pending, created_at)
                    SELECT @run, @key, @wait_kind, @pending, @started WHERE EXISTS (SELECT 1 FROM lease)),
                new AS (
                    SELECT * FROM unnest(@ids, @functions, @inputs, @triggers, @created, @indexes, @concurrency, @queues)
                        AS t(id, function_id, input, trigger, created_at, parent_index, concurrency_key, queue_name)
                    WHERE EXISTS (SELECT 1 FROM lease)),
                inserted AS (
                    INSERT INTO {S}.runs (id, function_id, status, input, attempt, created_at, parent_run_id, parent_step, parent_index)
                    SELECT id, function_id, 0, input, 0, created_at, @run, @key, parent_index FROM new),
                queued AS (
                    INSERT INTO {S}.queue (run_id, function_id, available_at, owner, token, concurrency_key, queue_name)
                    SELECT id, function_id, created_at, NULL, 0, concurrency_key, queue_name FROM new),
                {PostgreSqlWrites.CancelWaits(S, "new")}
                SELECT COUNT(*) FROM lease
                """, returnsRows: true)
            .WithLease(lease).WithStep(waiting)
            .With("wait_kind", (int)kind).With("pending", children.Count)
            .With("ids", children.Select(c => c.Id).ToArray())
            .With("functions", children.Select(c => c.FunctionId).ToArray())
            .With("inputs", children.Select(c => c.StoredInput).ToArray())
            .With("triggers", children.Select(PostgreSqlWrites.TriggerData).ToArray())
            .With("created", children.Select(c => Ms(c.CreatedAt)).ToArray())
            .With("indexes", children.Select(c => c.Parent!.Index).ToArray())
            .With("concurrency", children.Select(c => c.ConcurrencyKey).ToArray())
            .With("queues", children.Select(c => c.QueueName).ToArray());
        return database.Writer.WriteAsync(command, result => (long)result.Rows[0][0]! == 1 ? true : throw new LeaseLostException(lease.RunId), notifiesWork: true);
    }

    private const string OnStepConflict = """
        ON CONFLICT (run_id, key) DO UPDATE SET
            kind = excluded.kind, status = excluded.status, output = excluded.output, error = excluded.error,
            attempts = excluded.attempts, ended_at = excluded.ended_at, wake_at = excluded.wake_at
        """;

    private static string UpsertStep(string s) => $"""
        INSERT INTO {s}.steps (run_id, key, kind, status, output, error, attempts, started_at, ended_at, wake_at)
        SELECT @run, @key, @kind, @status, @output, @error, @attempts, @started, @ended, @wake
        """;

    private PgCommand FencedStep(RunLease lease, StepRecord step, bool replaces = true)
    {
        var statement = replaces ? _upsertStep : _insertStep;
        return new PgCommand(statement.Alone)
        {
            // Checkpoints of many runs in one round go as one statement (see PgMerge); one run's step key only once.
            // Upserts and plain inserts are folded apart.
            Merge = new PgMerge(statement.Kind, $"{lease.RunId}\n{step.Key}", (lease, step), statement.BuildFolded, SplitFencedStep),
        }.WithParametersWhenSentAlone(c => c.WithLease(lease).WithStep(step));
    }

    /// <summary>
    /// The statements that write checkpoints, each only if its run's lease holds: replacing an entry of the same key, or,
    /// without <c>replaces</c>, failing on one.
    /// </summary>
    private sealed class StepStatement
    {
        public StepStatement(string s, bool replaces)
        {
            var onConflict = replaces ? OnStepConflict : "";
            Kind = $"{(replaces ? "fenced-step" : "fenced-new-step")}:{s}";
            Alone = $"{UpsertStep(s)} WHERE EXISTS (SELECT 1 FROM {s}.queue WHERE {Leased}) {onConflict}";
            Folded = $"""
                INSERT INTO {s}.steps (run_id, key, kind, status, output, error, attempts, started_at, ended_at, wake_at)
                SELECT v.run_id, v.key, v.kind, v.status, v.output, v.error, v.attempts, v.started, v.ended, v.wake
                FROM unnest(@runs, @owners, @tokens, @keys, @kinds, @statuses, @outputs, @errors, @attempts, @starteds, @endeds, @wakes)
                    AS v(run_id, owner, token, key, kind, status, output, error, attempts, started, ended, wake)
                WHERE EXISTS (SELECT 1 FROM {s}.queue q WHERE q.run_id = v.run_id AND q.owner = v.owner AND q.token = v.token)
                {onConflict}
                RETURNING run_id, key
                """;
            BuildFolded = FoldedCommand;
        }

        /// <summary>What a checkpoint folds with (<see cref="PgMerge.Kind"/>).</summary>
        public string Kind { get; }

        /// <summary>One checkpoint (parameters as <see cref="PgCommand.WithLease"/> and <see cref="PgCommand.WithStep"/>).</summary>
        public string Alone { get; }

        /// <summary>Checkpoints of several runs (arrays, one element per checkpoint); returns the (run, key) written.</summary>
        public string Folded { get; }

        public Func<IReadOnlyList<object>, PgCommand> BuildFolded { get; }

        private PgCommand FoldedCommand(IReadOnlyList<object> rows)
        {
            var parts = rows.Cast<(RunLease Lease, StepRecord Step)>().ToList();
            return new PgCommand(Folded, returnsRows: true)
                .With("runs", parts.Select(p => p.Lease.RunId).ToArray())
                .With("owners", parts.Select(p => p.Lease.Owner).ToArray())
                .With("tokens", parts.Select(p => p.Lease.Token).ToArray())
                .With("keys", parts.Select(p => p.Step.Key).ToArray())
                .With("kinds", parts.Select(p => (int)p.Step.Kind).ToArray())
                .With("statuses", parts.Select(p => (int)p.Step.Status).ToArray())
                .With("outputs", parts.Select(p => p.Step.OutputJson).ToArray())
                .With("errors", parts.Select(p => ErrorToDb(p.Step.Error)).ToArray())
                .With("attempts", parts.Select(p => p.Step.Attempts).ToArray())
                .With("starteds", parts.Select(p => Ms(p.Step.StartedAt)).ToArray())
                .With("endeds", parts.Select(p => MsOrNull(p.Step.EndedAt)).ToArray())
                .With("wakes", parts.Select(p => MsOrNull(p.Step.WakeAt)).ToArray());
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<PgResult, HashSet<(string RunId, string Key)>> WrittenSteps = [];

    private static HashSet<(string RunId, string Key)> Written(PgResult folded)
    {
        var written = new HashSet<(string RunId, string Key)>(folded.Rows.Count);
        foreach (var row in folded.Rows)
        {
            written.Add(((string)row[0]!, (string)row[1]!));
        }

        return written;
    }

    private static PgResult SplitFencedStep(PgResult folded, object row)
    {
        var (lease, step) = ((RunLease, StepRecord))row;
        var written = WrittenSteps.GetValue(folded, Written);
        return written.Contains((lease.RunId, step.Key)) ? StepWritten : StepNotWritten;
    }

    private Task Requeue(RunLease lease, DateTimeOffset due, RunStatus status, int? attempt)
    {
        // A wait resolved while the run was still leased ("woken") makes it due now rather than at its timeout.
        var now = database.Time.GetUtcNow();
        return database.Writer.WriteAsync(
            new PgCommand($"""
                    WITH requeued AS (
                        UPDATE {S}.queue SET owner = NULL, woken = 0,
                            available_at = CASE WHEN woken = 1 AND @due > @now THEN @now ELSE @due END
                        WHERE {Leased} RETURNING run_id, available_at)
                    UPDATE {S}.runs r SET status = CASE WHEN q.available_at <= @now THEN 0 ELSE @status END, attempt = COALESCE(@attempt, attempt)
                    FROM requeued q WHERE r.id = q.run_id
                    RETURNING r.id
                    """, returnsRows: true)
                .WithLease(lease).With("due", Ms(due)).With("now", Ms(now)).With("status", (int)status).With("attempt", attempt),
            result => result.Rows.Count == 1 ? true : throw new LeaseLostException(lease.RunId),
            notifiesWork: due <= now);
    }
}

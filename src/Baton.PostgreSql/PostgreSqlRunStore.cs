using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

internal sealed class PostgreSqlRunStore(PostgreSqlDatabase database) : IRunStore
{
    public Task<IReadOnlyList<string>> CreateAsync(IReadOnlyList<NewRun> runs, CancellationToken cancellationToken)
    {
        if (runs.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<string>>([]);
        }

        var s = database.Schema;
        PgRound<IReadOnlyList<string>> Create(IReadOnlyList<NewRun> runs, IReadOnlyList<PgCommand> first) => new(
            [.. first, PostgreSqlWrites.InsertRuns(s, runs), .. runs.Where(r => r.Journal is { Count: > 0 }).Select(r => PostgreSqlWrites.InsertSteps(s, r.Id, r.Journal!))],
            results => PgNext<IReadOnlyList<string>>.Done([.. results[first.Count].Rows.Select(r => (string)r[0]!)]),
            NotifiesWork: true);

        // Throttles first (rate limits drop only runs of events, and these are started by id), then singletons in cancel
        // mode, whose holders are cancelled just before the insert.
        PgRound<IReadOnlyList<string>> Singletons(IReadOnlyList<NewRun> admitted) =>
            PostgreSqlWrites.CancelSingletons(s, admitted, database.Time.GetUtcNow(), cancels => PgNext<IReadOnlyList<string>>.More(Create(admitted, cancels)))
            ?? Create(admitted, []);
        return database.Writer.WriteAsync(
            PostgreSqlWrites.ApplyRates(s, runs, starts => PgNext<IReadOnlyList<string>>.More(Singletons(PostgreSqlWrites.Admitted(runs, starts))))
            ?? Singletons(runs));
    }

    public async Task<IReadOnlyList<ChildResult>> GetChildrenAsync(string parentRunId, string stepKey, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT parent_index, id, status, output, error FROM {database.Schema}.runs
            WHERE parent_run_id = @run AND parent_step = @key ORDER BY parent_index;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("run", parentRunId).With("key", stepKey);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var children = new List<ChildResult>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                children.Add(new ChildResult(reader.GetInt32(0), reader.GetString(1), (RunStatus)reader.GetInt32(2), StringOrNull(reader, 3), ErrorFromDb(reader, 4)));
            }

            return children;
        }
    }

    /// <remarks>
    /// One statement ends the run and its unfinished descendants (a recursive walk down parent links) and removes their
    /// queue rows and waits; a second round reports the run's end to its own parent.
    /// </remarks>
    public Task<bool> CancelAsync(string runId, RunStatus status, RunError reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var s = database.Schema;
        return database.Writer.WriteAsync(new PgRound<bool>([PostgreSqlWrites.Cancel(s, runId, status, reason, now)], results =>
        {
            if (results[0].Rows.Count == 0)
            {
                return PgNext<bool>.Done(false);
            }

            var report = PostgreSqlWrites.ReportCancelToParent(s, results[0], runId, status, reason, now);
            return report.Length == 0 ? PgNext<bool>.Done(true) : PgNext<bool>.More(new(report, _ => PgNext<bool>.Done(true), NotifiesWork: true));
        }));
    }

    public async Task<RunRecord?> GetAsync(string runId, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT {RunRows.Columns} FROM {database.Schema}.runs WHERE id = @id;", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("id", runId);
            return (await ReadRunsAsync(command, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
        }
    }

    public async Task<IReadOnlyList<RunRecord>> ListAsync(RunFilter filter, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT {RunRows.Columns} FROM {database.Schema}.runs
            WHERE (@fn::text IS NULL OR function_id = @fn) AND (@status::int IS NULL OR status = @status)
              AND (@event::text IS NULL OR event_id = @event)
              AND (@tag::text IS NULL OR tags::jsonb ? @tag)
              AND (@from::bigint IS NULL OR created_at >= @from) AND (@to::bigint IS NULL OR created_at < @to)
              AND (@after_at::bigint IS NULL OR (created_at, id) < (@after_at, @after_id::text))
            ORDER BY created_at DESC, id DESC LIMIT @limit;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("fn", filter.FunctionId).With("status", (int?)filter.Status).With("event", filter.EventId).With("tag", filter.Tag)
                .With("from", filter.From is { } from ? Ms(from) : (long?)null).With("to", filter.To is { } to ? Ms(to) : (long?)null)
                .With("after_at", filter.AfterCreatedAt is { } after ? Ms(after) : (long?)null).With("after_id", filter.AfterId).With("limit", filter.Limit);
            return await ReadRunsAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StoreLargeValueAsync(string id, string runId, byte[] compressed, long bytes, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            new PgCommand($"INSERT INTO {database.Schema}.large_values (id, run_id, bytes, data, created_at) VALUES (@id, @run, @bytes, @data, @now);")
                .With("id", id).With("run", runId).With("bytes", bytes).With("data", compressed).With("now", Ms(database.Time.GetUtcNow())),
            _ => true);

    public async Task<byte[]?> LoadLargeValueAsync(string id, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT data FROM {database.Schema}.large_values WHERE id = @id;", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("id", id);
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as byte[];
        }
    }

    /// <remarks>
    /// The row is locked while the new metadata and tags are computed from it (FOR UPDATE), so concurrent writers (the
    /// children of one parent, on several nodes) each see the others' keys and tags; limits are checked on the result.
    /// </remarks>
    public Task<bool> UpdateMetadataAsync(RunLease writer, string runId, RunMetadataPatch patch, int maxMetadataChars, int maxTags, CancellationToken cancellationToken)
    {
        var s = database.Schema;
        return database.Writer.WriteAsync(
            new PgCommand($"""
                    WITH lease AS (
                        SELECT 1 FROM {s}.queue WHERE run_id = @lease_run AND owner = @owner AND token = @token),
                    next AS (
                        SELECT id,
                            CASE WHEN @key::text IS NULL THEN metadata
                                 WHEN @value::text IS NULL THEN (COALESCE(metadata::jsonb, jsonb_build_object()) - @key::text)::text
                                 ELSE (COALESCE(metadata::jsonb, jsonb_build_object()) || jsonb_build_object(@key::text, @value::jsonb))::text END AS metadata,
                            CASE WHEN @tags::text[] IS NULL THEN tags ELSE
                                (SELECT jsonb_agg(v ORDER BY v)::text FROM (SELECT jsonb_array_elements_text(COALESCE(tags, '[]')::jsonb) v UNION SELECT unnest(@tags::text[])) t) END AS tags
                        FROM {s}.runs WHERE id = @run AND EXISTS (SELECT 1 FROM lease) FOR UPDATE),
                    updated AS (
                        UPDATE {s}.runs r SET progress = COALESCE(@progress::text, r.progress), metadata = next.metadata, tags = next.tags
                        FROM next
                        WHERE r.id = next.id
                          AND (@key::text IS NULL OR length(next.metadata) <= @max_chars)
                          AND (@tags::text[] IS NULL OR jsonb_array_length(next.tags::jsonb) <= @max_tags)
                        RETURNING 1)
                    SELECT (SELECT COUNT(*) FROM lease), (SELECT COUNT(*) FROM updated)
                    """, returnsRows: true)
                .With("lease_run", writer.RunId).With("owner", writer.Owner).With("token", writer.Token)
                .With("run", runId).With("progress", patch.ProgressJson).With("key", patch.MetadataKey).With("value", patch.MetadataValueJson)
                .With("tags", patch.AddTags?.ToArray()).With("max_chars", maxMetadataChars).With("max_tags", maxTags),
            result => (long)result.Rows[0][0]! == 0 ? throw new LeaseLostException(writer.RunId) : (long)result.Rows[0][1]! == 1);
    }

    public async Task<IReadOnlyDictionary<RunStatus, long>> CountAsync(RunFilter filter, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT status, COUNT(*) FROM {database.Schema}.runs
            WHERE (@fn::text IS NULL OR function_id = @fn) AND (@event::text IS NULL OR event_id = @event)
              AND (@tag::text IS NULL OR tags::jsonb ? @tag)
              AND (@from::bigint IS NULL OR created_at >= @from) AND (@to::bigint IS NULL OR created_at < @to)
            GROUP BY status;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("fn", filter.FunctionId).With("event", filter.EventId).With("tag", filter.Tag)
                .With("from", filter.From is { } from ? Ms(from) : (long?)null).With("to", filter.To is { } to ? Ms(to) : (long?)null);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var counts = new Dictionary<RunStatus, long>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                counts[(RunStatus)reader.GetInt32(0)] = reader.GetInt64(1);
            }

            return counts;
        }
    }

    public async Task<IReadOnlyList<RunWait>> GetWaitsAsync(string runId, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync(
            $"SELECT step_key, kind, event_name, match_path, match_value, condition FROM {database.Schema}.waits WHERE run_id = @run;", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("run", runId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var waits = new List<RunWait>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                waits.Add(new RunWait(reader.GetString(0), (WaitKind)reader.GetInt32(1), StringOrNull(reader, 2), StringOrNull(reader, 3), StringOrNull(reader, 4), StringOrNull(reader, 5)));
            }

            return waits;
        }
    }

    private static async Task<IReadOnlyList<RunRecord>> ReadRunsAsync(Npgsql.NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var runs = new List<RunRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            runs.Add(RunRows.Read(reader));
        }

        return runs;
    }

    public Task<int> PurgeAsync(DateTimeOffset cutoff, int batchSize, CancellationToken cancellationToken)
    {
        var s = database.Schema;
        return database.Writer.WriteAsync(
            new PgCommand($"""
                    WITH old AS (SELECT id FROM {s}.runs WHERE created_at < @cutoff AND ended_at < @cutoff ORDER BY created_at LIMIT @n),
                    steps AS (DELETE FROM {s}.steps WHERE run_id IN (SELECT id FROM old)),
                    large AS (DELETE FROM {s}.large_values WHERE run_id IN (SELECT id FROM old)),
                    orphans AS (DELETE FROM {s}.large_values WHERE id IN (
                        SELECT id FROM {s}.large_values v WHERE created_at < @cutoff AND NOT EXISTS (SELECT 1 FROM {s}.runs r WHERE r.id = v.run_id) LIMIT @n)),
                    runs AS (DELETE FROM {s}.runs WHERE id IN (SELECT id FROM old) RETURNING 1),
                    events AS (DELETE FROM {s}.events WHERE id IN (SELECT id FROM {s}.events WHERE received_at < @cutoff LIMIT @n) RETURNING 1),
                    keys AS (DELETE FROM {s}.idempotency WHERE (function_id, key) IN (SELECT function_id, key FROM {s}.idempotency WHERE expires_at < @cutoff LIMIT @n))
                    SELECT (SELECT COUNT(*) FROM runs) + (SELECT COUNT(*) FROM events);
                    """, returnsRows: true)
                .With("cutoff", Ms(cutoff)).With("n", batchSize),
            result => Convert.ToInt32(result.Rows[0][0], System.Globalization.CultureInfo.InvariantCulture));
    }

    public async Task<IReadOnlyList<StepRecord>> GetStepsAsync(string runId, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT key, kind, status, output, error, attempts, started_at, ended_at, wake_at
            FROM {database.Schema}.steps WHERE run_id = @run ORDER BY seq;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("run", runId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var steps = new List<StepRecord>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                steps.Add(new StepRecord(
                    reader.GetString(0),
                    (StepKind)reader.GetInt32(1),
                    (StepStatus)reader.GetInt32(2),
                    StringOrNull(reader, 3),
                    ErrorFromDb(reader, 4),
                    reader.GetInt32(5),
                    Time0(reader.GetInt64(6)),
                    TimeOrNull(reader, 7),
                    TimeOrNull(reader, 8)));
            }

            return steps;
        }
    }
}

using Baton.Storage;
using static Baton.Sqlite.SqliteDatabase;

namespace Baton.Sqlite;

internal sealed class SqliteRunStore(SqliteDatabase database) : IRunStore
{
    public Task<IReadOnlyList<string>> CreateAsync(IReadOnlyList<NewRun> runs, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync<IReadOnlyList<string>>(w =>

            // Rate limits drop only runs started by events; runs created here are started by id, so each has an id.
            [.. runs.Select(run => SqliteWrites.InsertRun(w, run) ?? run.Id)]);

    public Task<RunRecord?> GetAsync(string runId, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {RunRows.Columns} FROM runs WHERE id = @id;";
        command.With("@id", runId);
        return Task.FromResult(ReadRuns(command).SingleOrDefault());
    }

    public Task<IReadOnlyList<RunRecord>> ListAsync(RunFilter filter, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {RunRows.Columns} FROM runs
            WHERE (@fn IS NULL OR function_id = @fn) AND (@status IS NULL OR status = @status)
              AND (@event IS NULL OR event_id = @event)
              AND (@tag IS NULL OR EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = @tag))
              AND (@from IS NULL OR created_at >= @from) AND (@to IS NULL OR created_at < @to)
              AND (@after_at IS NULL OR created_at < @after_at OR (created_at = @after_at AND id < @after_id))
            ORDER BY created_at DESC, id DESC LIMIT @limit;
            """;
        command.With("@fn", filter.FunctionId).With("@status", (int?)filter.Status).With("@event", filter.EventId).With("@tag", filter.Tag)
            .With("@from", MsOrNull(filter.From)).With("@to", MsOrNull(filter.To))
            .With("@after_at", MsOrNull(filter.AfterCreatedAt)).With("@after_id", filter.AfterId).With("@limit", filter.Limit);
        return Task.FromResult(ReadRuns(command));
    }

    public Task StoreLargeValueAsync(string id, string runId, byte[] compressed, long bytes, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w => w.Command("INSERT INTO large_values(id, run_id, bytes, data, created_at) VALUES (@id, @run, @bytes, @data, @now);")
            .With("@id", id).With("@run", runId).With("@bytes", bytes).With("@data", compressed).With("@now", Ms(database.Time.GetUtcNow()))
            .ExecuteNonQuery());

    public Task<byte[]?> LoadLargeValueAsync(string id, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT data FROM large_values WHERE id = @id;";
        command.With("@id", id);
        return Task.FromResult(command.ExecuteScalar() as byte[]);
    }

    /// <remarks>
    /// One key is set or removed (json_set / json_remove on a quoted path: the key is replaced whole, as on PostgreSQL);
    /// the limits are checked on the result in the same statement, so concurrent writers cannot pass them together.
    /// </remarks>
    public Task<bool> UpdateMetadataAsync(RunLease writer, string runId, RunMetadataPatch patch, int maxMetadataChars, int maxTags, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            SqliteWrites.EnsureLeased(w, writer);
            return w.Command("""
                WITH next AS (
                    SELECT
                        CASE WHEN @key IS NULL THEN metadata
                             WHEN @value IS NULL THEN json_remove(COALESCE(metadata, '{}'), @path)
                             ELSE json_set(COALESCE(metadata, '{}'), @path, json(@value)) END AS metadata,
                        CASE WHEN @tags IS NULL THEN tags ELSE
                            (SELECT json_group_array(value) FROM (SELECT value FROM json_each(COALESCE(runs.tags, '[]')) UNION SELECT value FROM json_each(@tags))) END AS tags
                    FROM runs WHERE id = @run)
                UPDATE runs SET
                    progress = COALESCE(@progress, progress),
                    metadata = (SELECT metadata FROM next),
                    tags = (SELECT tags FROM next)
                WHERE id = @run
                  AND (@key IS NULL OR length((SELECT metadata FROM next)) <= @max_chars)
                  AND (@tags IS NULL OR json_array_length((SELECT tags FROM next)) <= @max_tags);
                """)
            .With("@run", runId).With("@progress", patch.ProgressJson).With("@key", patch.MetadataKey)
            .With("@path", patch.MetadataKey is { } key ? $"$.\"{key}\"" : null).With("@value", patch.MetadataValueJson)
            .With("@tags", patch.AddTags is null ? null : System.Text.Json.JsonSerializer.Serialize(patch.AddTags))
            .With("@max_chars", maxMetadataChars).With("@max_tags", maxTags)
            .ExecuteNonQuery() == 1;
        });

    public Task<IReadOnlyDictionary<RunStatus, long>> CountAsync(RunFilter filter, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT status, COUNT(*) FROM runs
            WHERE (@fn IS NULL OR function_id = @fn) AND (@event IS NULL OR event_id = @event)
              AND (@tag IS NULL OR EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = @tag))
              AND (@from IS NULL OR created_at >= @from) AND (@to IS NULL OR created_at < @to)
            GROUP BY status;
            """;
        command.With("@fn", filter.FunctionId).With("@event", filter.EventId).With("@tag", filter.Tag)
            .With("@from", MsOrNull(filter.From)).With("@to", MsOrNull(filter.To));
        using var reader = command.ExecuteReader();
        var counts = new Dictionary<RunStatus, long>();
        while (reader.Read())
        {
            counts[(RunStatus)reader.GetInt32(0)] = reader.GetInt64(1);
        }

        return Task.FromResult<IReadOnlyDictionary<RunStatus, long>>(counts);
    }

    public Task<IReadOnlyList<RunWait>> GetWaitsAsync(string runId, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT step_key, kind, event_name, match_path, match_value, condition FROM waits WHERE run_id = @run;";
        command.With("@run", runId);
        using var reader = command.ExecuteReader();
        var waits = new List<RunWait>();
        while (reader.Read())
        {
            waits.Add(new RunWait(reader.GetString(0), (WaitKind)reader.GetInt32(1), StringOrNull(reader, 2), StringOrNull(reader, 3), StringOrNull(reader, 4), StringOrNull(reader, 5)));
        }

        return Task.FromResult<IReadOnlyList<RunWait>>(waits);
    }

    private static IReadOnlyList<RunRecord> ReadRuns(Microsoft.Data.Sqlite.SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var runs = new List<RunRecord>();
        while (reader.Read())
        {
            runs.Add(RunRows.Read(reader));
        }

        return runs;
    }

    public Task<int> PurgeAsync(DateTimeOffset cutoff, int batchSize, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            var ids = new List<string>();
            using (var reader = w.Command("SELECT id FROM runs WHERE created_at < @cutoff AND ended_at < @cutoff ORDER BY created_at LIMIT @n;").With("@cutoff", Ms(cutoff)).With("@n", batchSize).ExecuteReader())
            {
                while (reader.Read())
                {
                    ids.Add(reader.GetString(0));
                }
            }

            var json = System.Text.Json.JsonSerializer.Serialize(ids);
            w.Command("DELETE FROM steps WHERE run_id IN (SELECT value FROM json_each(@ids));").With("@ids", json).ExecuteNonQuery();
            w.Command("DELETE FROM large_values WHERE run_id IN (SELECT value FROM json_each(@ids));").With("@ids", json).ExecuteNonQuery();

            // A value whose run never came to be (its creation failed after the value was written) goes once it is old.
            w.Command("""
                DELETE FROM large_values WHERE id IN (
                    SELECT id FROM large_values v WHERE created_at < @cutoff AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = v.run_id) LIMIT @n);
                """).With("@cutoff", Ms(cutoff)).With("@n", batchSize).ExecuteNonQuery();
            var runs = w.Command("DELETE FROM runs WHERE id IN (SELECT value FROM json_each(@ids));").With("@ids", json).ExecuteNonQuery();
            var events = w.Command("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE received_at < @cutoff LIMIT @n);")
                .With("@cutoff", Ms(cutoff)).With("@n", batchSize).ExecuteNonQuery();
            w.Command("DELETE FROM idempotency WHERE (function_id, key) IN (SELECT function_id, key FROM idempotency WHERE expires_at < @cutoff LIMIT @n);")
                .With("@cutoff", Ms(cutoff)).With("@n", batchSize).ExecuteNonQuery();
            return runs + events;
        });

    public Task<IReadOnlyList<ChildResult>> GetChildrenAsync(string parentRunId, string stepKey, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT parent_index, id, status, output, error FROM runs
            WHERE parent_run_id = @run AND parent_step = @key ORDER BY parent_index;
            """;
        command.With("@run", parentRunId).With("@key", stepKey);
        using var reader = command.ExecuteReader();
        var children = new List<ChildResult>();
        while (reader.Read())
        {
            children.Add(new ChildResult(reader.GetInt32(0), reader.GetString(1), (RunStatus)reader.GetInt32(2), StringOrNull(reader, 3), ErrorFromDb(reader, 4)));
        }

        return Task.FromResult<IReadOnlyList<ChildResult>>(children);
    }

    public Task<bool> CancelAsync(string runId, RunStatus status, RunError reason, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w => SqliteWrites.CancelRun(w, runId, status, reason, now));

    internal static StepRecord? ReadStep(Microsoft.Data.Sqlite.SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadStep(reader) : null;
    }

    private static StepRecord ReadStep(Microsoft.Data.Sqlite.SqliteDataReader reader) =>
        new(
            reader.GetString(0),
            (StepKind)reader.GetInt32(1),
            (StepStatus)reader.GetInt32(2),
            StringOrNull(reader, 3),
            ErrorFromDb(reader, 4),
            reader.GetInt32(5),
            Time0(reader.GetInt64(6)),
            TimeOrNull(reader, 7),
            TimeOrNull(reader, 8));

    public Task<IReadOnlyList<StepRecord>> GetStepsAsync(string runId, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT key, kind, status, output, error, attempts, started_at, ended_at, wake_at
            FROM steps WHERE run_id = @run ORDER BY seq;
            """;
        command.With("@run", runId);
        using var reader = command.ExecuteReader();
        var steps = new List<StepRecord>();
        while (reader.Read())
        {
            steps.Add(ReadStep(reader));
        }

        return Task.FromResult<IReadOnlyList<StepRecord>>(steps);
    }
}

using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

internal sealed class PostgreSqlRunStore(PostgreSqlDatabase database) : IRunStore
{
    public Task CreateAsync(IReadOnlyList<NewRun> runs, CancellationToken cancellationToken) =>
        runs.Count == 0
            ? Task.CompletedTask
            : database.Writer.WriteAsync(PostgreSqlWrites.InsertRuns(database.Schema, runs), _ => true, notifiesWork: true);

    public async Task<RunRecord?> GetAsync(string runId, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT id, function_id, status, input, output, error, attempt, created_at, started_at, ended_at
            FROM {database.Schema}.runs WHERE id = @id;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("id", runId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ? new RunRecord(
                    reader.GetString(0),
                    reader.GetString(1),
                    (RunStatus)reader.GetInt32(2),
                    reader.GetString(3),
                    StringOrNull(reader, 4),
                    ErrorFromDb(reader, 5),
                    reader.GetInt32(6),
                    Time0(reader.GetInt64(7)),
                    TimeOrNull(reader, 8),
                    TimeOrNull(reader, 9))
                : null;
        }
    }

    public Task<int> PurgeAsync(DateTimeOffset cutoff, int batchSize, CancellationToken cancellationToken)
    {
        var s = database.Schema;
        return database.Writer.WriteAsync(
            new PgCommand($"""
                    WITH old AS (SELECT id FROM {s}.runs WHERE ended_at < @cutoff LIMIT @n),
                    steps AS (DELETE FROM {s}.steps WHERE run_id IN (SELECT id FROM old)),
                    runs AS (DELETE FROM {s}.runs WHERE id IN (SELECT id FROM old) RETURNING 1),
                    events AS (DELETE FROM {s}.events WHERE id IN (SELECT id FROM {s}.events WHERE received_at < @cutoff LIMIT @n) RETURNING 1)
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

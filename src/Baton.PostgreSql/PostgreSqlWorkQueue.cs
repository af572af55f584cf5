using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

internal sealed class PostgreSqlWorkQueue(PostgreSqlDatabase database, Microsoft.Extensions.Logging.ILogger logger) : IWorkQueue
{
    // The lease condition every leased write carries: the run is still queued, ours, and not claimed again since.
    private const string Leased = "run_id = @run AND owner = @owner AND token = @token";

    private string S => database.Schema;

    public Task<IReadOnlyList<ClaimedRun>> ClaimAsync(string owner, IReadOnlyCollection<string> functionIds, int max, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        var now = database.Time.GetUtcNow();

        // SKIP LOCKED: nodes claiming at the same moment take different runs instead of waiting on each other.
        var command = new PgCommand($"""
                WITH due AS (
                    SELECT run_id FROM {S}.queue
                    WHERE available_at <= @now AND function_id = ANY(@functions)
                    ORDER BY available_at LIMIT @max
                    FOR UPDATE SKIP LOCKED),
                claimed AS (
                    UPDATE {S}.queue q SET owner = @owner, token = q.token + 1, available_at = @until
                    FROM due WHERE q.run_id = due.run_id
                    RETURNING q.run_id, q.token)
                UPDATE {S}.runs r SET status = 1, started_at = COALESCE(r.started_at, @now)
                FROM claimed WHERE r.id = claimed.run_id
                RETURNING r.id, claimed.token, r.function_id, r.input, r.attempt, r.created_at
                """, returnsRows: true)
            .With("owner", owner).With("until", Ms(now + leaseDuration)).With("now", Ms(now))
            .With("functions", functionIds.ToArray()).With("max", max);
        return database.Writer.WriteAsync<IReadOnlyList<ClaimedRun>>(command, result =>
            [.. result.Rows.Select(r => new ClaimedRun(new RunLease((string)r[0]!, owner, (long)r[1]!), (string)r[2]!, (string)r[3]!, (int)r[4]!, Time0((long)r[5]!)))]);
    }

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

    public IDisposable SubscribeToWork(Action onWork) => new PostgreSqlListener(database, onWork, logger);

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

    public Task CheckpointAsync(RunLease lease, StepRecord step, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            new PgCommand($"""
                    INSERT INTO {S}.steps (run_id, key, kind, status, output, error, attempts, started_at, ended_at, wake_at)
                    SELECT @run, @key, @kind, @status, @output, @error, @attempts, @started, @ended, @wake
                    WHERE EXISTS (SELECT 1 FROM {S}.queue WHERE {Leased})
                    ON CONFLICT (run_id, key) DO UPDATE SET
                        kind = excluded.kind, status = excluded.status, output = excluded.output, error = excluded.error,
                        attempts = excluded.attempts, ended_at = excluded.ended_at, wake_at = excluded.wake_at
                    """)
                .WithLease(lease)
                .With("key", step.Key).With("kind", (int)step.Kind).With("status", (int)step.Status)
                .With("output", step.OutputJson).With("error", ErrorToDb(step.Error)).With("attempts", step.Attempts)
                .With("started", Ms(step.StartedAt)).With("ended", MsOrNull(step.EndedAt)).With("wake", MsOrNull(step.WakeAt)),
            result => result.RecordsAffected == 1 ? true : throw new LeaseLostException(lease.RunId));

    public Task SuspendAsync(RunLease lease, RunSuspension suspension, CancellationToken cancellationToken) =>
        Requeue(lease, suspension.WakeAt, suspension.Status, suspension.Attempt);

    public Task ReleaseAsync(RunLease lease, CancellationToken cancellationToken) =>
        Requeue(lease, database.Time.GetUtcNow(), RunStatus.Queued, null);

    public Task CompleteAsync(RunLease lease, RunCompletion completion, CancellationToken cancellationToken)
    {
        // One statement: the lease check, the end of the run and the emitted events (with their runs) succeed together
        // or write nothing.
        var prefix = $"""
            WITH done AS (
                DELETE FROM {S}.queue WHERE {Leased} RETURNING run_id),
            ended AS (
                UPDATE {S}.runs SET status = @status, output = @output, error = @error, ended_at = @ended
                WHERE id = (SELECT run_id FROM done))
            """;
        var command = PostgreSqlWrites.AppendEvents(S, completion.Emitted, prefix, "EXISTS (SELECT 1 FROM done)", "SELECT COUNT(*) FROM done")
            .WithLease(lease)
            .With("status", (int)completion.Status).With("output", completion.OutputJson)
            .With("error", ErrorToDb(completion.Error)).With("ended", Ms(completion.EndedAt));
        return database.Writer.WriteAsync(
            command,
            result => (long)result.Rows[0][0]! == 1 ? true : throw new LeaseLostException(lease.RunId),
            notifiesWork: completion.Emitted.Any(e => e.Runs.Count > 0));
    }

    private Task Requeue(RunLease lease, DateTimeOffset due, RunStatus status, int? attempt) =>
        database.Writer.WriteAsync(
            new PgCommand($"""
                    WITH requeued AS (
                        UPDATE {S}.queue SET owner = NULL, available_at = @due WHERE {Leased} RETURNING run_id)
                    UPDATE {S}.runs SET status = @status, attempt = COALESCE(@attempt, attempt)
                    WHERE id = (SELECT run_id FROM requeued)
                    RETURNING id
                    """, returnsRows: true)
                .WithLease(lease).With("due", Ms(due)).With("status", (int)status).With("attempt", attempt),
            result => result.Rows.Count == 1 ? true : throw new LeaseLostException(lease.RunId),
            notifiesWork: due <= database.Time.GetUtcNow());
}

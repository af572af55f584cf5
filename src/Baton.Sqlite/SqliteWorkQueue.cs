using System.Text.Json;
using Baton.Storage;
using static Baton.Sqlite.SqliteDatabase;

namespace Baton.Sqlite;

internal sealed class SqliteWorkQueue(SqliteDatabase database) : IWorkQueue
{
    // The lease condition every leased write carries: the run is still queued, ours, and not claimed again since.
    private const string Leased = "run_id = @run AND owner = @owner AND token = @token";

    public Task<IReadOnlyList<ClaimedRun>> ClaimAsync(string owner, IReadOnlyCollection<string> functionIds, int max, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        var functions = JsonSerializer.Serialize(functionIds);
        return database.Writer.WriteAsync<IReadOnlyList<ClaimedRun>>(w =>
        {
            var now = database.Time.GetUtcNow();
            var leases = new List<(string RunId, long Token)>();
            using (var reader = w.Command("""
                    UPDATE queue SET owner = @owner, token = token + 1, available_at = @until
                    WHERE run_id IN (
                        SELECT run_id FROM queue
                        WHERE available_at <= @now AND function_id IN (SELECT value FROM json_each(@functions))
                        ORDER BY available_at LIMIT @max)
                    RETURNING run_id, token;
                    """)
                .With("@owner", owner).With("@until", Ms(now + leaseDuration)).With("@now", Ms(now))
                .With("@functions", functions).With("@max", max)
                .ExecuteReader())
            {
                while (reader.Read())
                {
                    leases.Add((reader.GetString(0), reader.GetInt64(1)));
                }
            }

            var claimed = new List<ClaimedRun>(leases.Count);
            foreach (var (runId, token) in leases)
            {
                using var reader = w.Command("""
                        UPDATE runs SET status = 1, started_at = COALESCE(started_at, @now) WHERE id = @run
                        RETURNING function_id, input, attempt, created_at;
                        """)
                    .With("@now", Ms(now)).With("@run", runId)
                    .ExecuteReader();
                if (reader.Read())
                {
                    claimed.Add(new ClaimedRun(new RunLease(runId, owner, token), reader.GetString(0), reader.GetString(1), reader.GetInt32(2), Time0(reader.GetInt64(3))));
                }
            }

            return claimed;
        });
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
    public IDisposable SubscribeToWork(Action onWork) => NoSubscription.Instance;

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
                    WHERE EXISTS (SELECT 1 FROM queue WHERE {Leased})
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
            if (w.Command($"DELETE FROM queue WHERE {Leased};").WithLease(lease).ExecuteNonQuery() != 1)
            {
                throw new LeaseLostException(lease.RunId);
            }

            w.Command("UPDATE runs SET status = @status, output = @output, error = @error, ended_at = @ended WHERE id = @run;")
                .With("@status", (int)completion.Status).With("@output", completion.OutputJson)
                .With("@error", ErrorToDb(completion.Error)).With("@ended", Ms(completion.EndedAt)).With("@run", lease.RunId)
                .ExecuteNonQuery();
            SqliteWrites.AppendEvents(w, completion.Emitted);
            return true;
        });

    private static bool Requeue(SqliteWriter w, RunLease lease, DateTimeOffset due, RunStatus status, int? attempt)
    {
        if (w.Command($"UPDATE queue SET owner = NULL, available_at = @due WHERE {Leased};").WithLease(lease).With("@due", Ms(due)).ExecuteNonQuery() != 1)
        {
            throw new LeaseLostException(lease.RunId);
        }

        w.Command("UPDATE runs SET status = @status, attempt = COALESCE(@attempt, attempt) WHERE id = @run;")
            .With("@status", (int)status).With("@attempt", attempt).With("@run", lease.RunId)
            .ExecuteNonQuery();
        return true;
    }
}

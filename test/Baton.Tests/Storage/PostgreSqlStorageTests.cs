using Baton.PostgreSql;
using Baton.Storage;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Baton.Tests.Storage;

public sealed class PostgreSqlStorageTests : StorageContractTests
{
    protected override TestStorage NewStorage() => new PostgresTestStorage();

    private PostgresTestStorage Postgres => (PostgresTestStorage)Database;

    [Fact]
    public async Task ConcurrentCheckpoints_AreGroupCommittedIntoFewTransactions()
    {
        var runs = Enumerable.Range(0, 200).Select(i => new NewRun($"r{i}", "f", "[]", Start, Start, null)).ToList();
        await Storage.Runs.CreateAsync(runs, default);
        var leases = (await Storage.Queue.ClaimAsync("w", ["f"], 200, TimeSpan.FromMinutes(1), new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Select(c => c.Lease).ToList();
        var postgres = (PostgreSqlStorage)Storage;
        var before = postgres.WriterCounters;

        await Task.WhenAll(leases.Select(l => Storage.Queue.CheckpointAsync(l, new StepRecord("s", StepKind.Run, StepStatus.Completed, "1", null, 1, Start, Start, null), default)));

        var after = postgres.WriterCounters;
        Assert.Equal(200, after.Operations - before.Operations);
        Assert.True(after.Commits - before.Commits < 200, $"200 concurrent checkpoints took {after.Commits - before.Commits} commits");
        Assert.Equal(200, Database.Scalar("SELECT COUNT(*) FROM steps"));
    }

    [Fact]
    public async Task AWriteThatBreaksTheTransaction_FailsAlone_TheOthersInItsBatchLand()
    {
        await Storage.Runs.CreateAsync([.. Enumerable.Range(0, 20).Select(i => new NewRun($"r{i:00}", "f", "[]", Start, Start, null))], default);
        var leases = (await Storage.Queue.ClaimAsync("w", ["f"], 20, TimeSpan.FromMinutes(1), new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default))
            .Select(c => c.Lease).ToList();
        await Storage.Runs.StoreLargeValueAsync("taken", "r00", [1], 1, default);

        // While the writer waits on a first checkpoint, a duplicate value id and 19 checkpoints queue into one batch.
        await using var blocker = new NpgsqlConnection(Postgres.Server.ConnectionString);
        await blocker.OpenAsync();
        await using var hold = await blocker.BeginTransactionAsync();
        await using (var lockSteps = new NpgsqlCommand($"LOCK TABLE {Postgres.Schema}.steps IN SHARE MODE", blocker, hold))
        {
            await lockSteps.ExecuteNonQueryAsync();
        }

        StepRecord Step(int i) => new("s", StepKind.Run, StepStatus.Completed, $"{i}", null, 1, Start, Start, null);
        var first = Storage.Queue.CheckpointAsync(leases[0], Step(0), default);
        await TestHost.EventuallyAsync(
            () => Task.FromResult(Database.Scalar($"SELECT COUNT(*) FROM pg_locks WHERE NOT granted AND relation = '{Postgres.Schema}.steps'::regclass") > 0),
            "the first checkpoint waits for the lock");
        var duplicate = Storage.Runs.StoreLargeValueAsync("taken", "r01", [2], 1, default);
        var other = Storage.Runs.StoreLargeValueAsync("free", "r01", [3], 1, default);
        var rest = leases.Skip(1).Select((l, i) => Storage.Queue.CheckpointAsync(l, Step(i + 1), default)).ToList();
        await hold.CommitAsync();

        var error = await Assert.ThrowsAsync<PostgresException>(() => duplicate);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, error.SqlState);
        await first;
        await other;
        await Task.WhenAll(rest);
        Assert.Equal(20, Database.Scalar("SELECT COUNT(*) FROM steps"));
        Assert.Equal([1], await Storage.Runs.LoadLargeValueAsync("taken", default));
        Assert.Equal([3], await Storage.Runs.LoadLargeValueAsync("free", default));
    }

    [Fact]
    public async Task ACheckpoint_CommitsWhileAnotherBatchWaitsOnARowLock_AWriteThatTakesLocksWaitsItsTurn()
    {
        await Storage.Runs.CreateAsync([.. Enumerable.Range(0, 3).Select(i => new NewRun($"r{i}", "f", "[]", Start, Start, null))], default);
        var leases = (await Storage.Queue.ClaimAsync("w", ["f"], 3, TimeSpan.FromMinutes(1), new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default))
            .ToDictionary(c => c.Lease.RunId, c => c.Lease);

        // Another session holds r0's queue row, so the end of r0 waits on it, in flight.
        await using var blocker = new NpgsqlConnection(Postgres.Server.ConnectionString);
        await blocker.OpenAsync();
        await using var hold = await blocker.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand($"SELECT 1 FROM {Postgres.Schema}.queue WHERE run_id = 'r0' FOR UPDATE", blocker, hold))
        {
            await lockRow.ExecuteNonQueryAsync();
        }

        var end = Storage.Queue.CompleteAsync(leases["r0"], new RunCompletion(RunStatus.Completed, "0", null, Start, []), default);
        await TestHost.EventuallyAsync(() => Task.FromResult(Database.Scalar($"SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.query LIKE '%{Postgres.Schema}.queue%'") > 0),
            "the end of r0 waits for the row");

        // A checkpoint takes no lock another write could want: it commits on the writer's other connection meanwhile.
        var checkpoint = Storage.Queue.CheckpointAsync(leases["r1"], new StepRecord("s", StepKind.Run, StepStatus.Completed, "1", null, 1, Start, Start, null), default);
        var release = Storage.Queue.ReleaseAsync(leases["r2"], default);
        await checkpoint.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, Database.Scalar("SELECT COUNT(*) FROM steps WHERE run_id = 'r1'"));

        // A release does take row locks: it was not sent beside the blocked end, so it has not committed either.
        Assert.False(end.IsCompleted);
        Assert.Equal(1, Database.Scalar("SELECT COUNT(*) FROM queue WHERE run_id = 'r2' AND owner IS NOT NULL"));

        await hold.CommitAsync();
        await end;
        await release;
        Assert.Equal(0, Database.Scalar("SELECT COUNT(*) FROM queue WHERE run_id = 'r0'"));
        Assert.Equal(0, Database.Scalar("SELECT COUNT(*) FROM queue WHERE run_id = 'r2' AND owner IS NOT NULL"));
    }

    [Fact]
    public async Task Claim_OfARunThatExecutedBefore_ReadsItsJournal_ExactlyAsGetStepsDoes()
    {
        await Storage.Runs.CreateAsync([new NewRun("r1", "f", "[]", Start, Start, null), new NewRun("r2", "f", "[]", Start, Start, null)], default);
        var limits = new Dictionary<string, Baton.Storage.ConcurrencyRule>();
        var first = await Storage.Queue.ClaimAsync("w", ["f"], 10, TimeSpan.FromMinutes(1), limits, null, default);
        Assert.All(first, c => Assert.Null(c.Journal)); // a first claim: there is nothing to read
        var r1 = first.Single(c => c.Lease.RunId == "r1").Lease;
        StepRecord[] written =
        [
            new("a", StepKind.Run, StepStatus.Completed, "{\"text\":\"é \\\" \\n\"}", null, 1, Start, Start.AddSeconds(1), null),
            new("b", StepKind.Run, StepStatus.Failed, null, new RunError("System.Exception", "boom \"quoted\"", "at X"), 3, Start.AddSeconds(2), Start.AddSeconds(3), Start.AddMinutes(5)),
            new("c", StepKind.Sleep, StepStatus.Waiting, null, null, 0, Start.AddSeconds(4), null, Start.AddHours(1)),
        ];
        foreach (var step in written)
        {
            await Storage.Queue.CheckpointAsync(r1, step, default);
        }

        foreach (var lease in first.Select(c => c.Lease))
        {
            await Storage.Queue.ReleaseAsync(lease, default);
        }

        var again = await Storage.Queue.ClaimAsync("w", ["f"], 10, TimeSpan.FromMinutes(1), limits, null, default);

        Assert.Equal(written, again.Single(c => c.Lease.RunId == "r1").Journal);
        Assert.Equal(await Storage.Runs.GetStepsAsync("r1", default), again.Single(c => c.Lease.RunId == "r1").Journal);
        Assert.Empty(again.Single(c => c.Lease.RunId == "r2").Journal!);
    }

    [Fact]
    public async Task Claim_WithABacklogItsStatisticsDoNotDescribe_AnalyzesTheQueue()
    {
        // Autovacuum off for this queue: only the claims can be what analyzes it.
        Database.Rows($"ALTER TABLE {Postgres.Schema}.queue SET (autovacuum_enabled = false)");
        var statistics = ((PostgreSqlWorkQueue)Storage.Queue).Statistics;
        var limits = new Dictionary<string, Baton.Storage.ConcurrencyRule>();
        long Described() => Database.Scalar($"SELECT reltuples::bigint FROM pg_class WHERE oid = '{Postgres.Schema}.queue'::regclass");
        Task CreateAsync(int from, int to) =>
            Storage.Runs.CreateAsync([.. Enumerable.Range(from, to - from).Select(i => new NewRun($"r{i:0000}", "f", "[]", Start, Start, null))], default);

        // A backlog of 500 (a few pages): small enough that any plan is cheap; left alone.
        await CreateAsync(0, 500);
        Assert.Equal(10, (await Storage.Queue.ClaimAsync("w", ["f"], 10, TimeSpan.FromMinutes(1), limits, null, default)).Count);
        await statistics.Checked;
        Assert.Equal(-1, Described());

        // 3,000 rows, never analyzed: but a check ran within the last 10 s, so none runs yet.
        await CreateAsync(500, 3000);
        Assert.Equal(10, (await Storage.Queue.ClaimAsync("w", ["f"], 10, TimeSpan.FromMinutes(1), limits, null, default)).Count);
        await statistics.Checked;
        Assert.Equal(-1, Described());

        Time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(10, (await Storage.Queue.ClaimAsync("w", ["f"], 10, TimeSpan.FromMinutes(1), limits, null, default)).Count);
        await statistics.Checked;
        Assert.InRange(Described(), 2900, 3100);
    }

    [Fact]
    public async Task AppendEvents_AfterABurstOfWaitsTheirStatisticsDoNotDescribe_AnalyzesTheWaits()
    {
        // Autovacuum off for the waits: only the events looking for them can be what analyzes them.
        Database.Rows($"ALTER TABLE {Postgres.Schema}.waits SET (autovacuum_enabled = false)");
        var statistics = ((PostgreSqlEventStore)Storage.Events).WaitStatistics;
        long Described() => Database.Scalar($"SELECT reltuples::bigint FROM pg_class WHERE oid = '{Postgres.Schema}.waits'::regclass");
        void Wait(int from, int to) => Database.Rows($"""
            INSERT INTO {Postgres.Schema}.wait_paths (event_name, match_path) VALUES ('approve', 'data.i') ON CONFLICT DO NOTHING;
            INSERT INTO {Postgres.Schema}.waits (run_id, step_key, kind, event_name, match_path, match_value, created_at)
            SELECT 'r' || i, 'approval', 0, 'approve', 'data.i', i::text, 0 FROM generate_series({from}, {to - 1}) i
            """);
        Task SendAsync(string id) =>
            Storage.Events.AppendAsync([new EventAppend(new EventRecord(id, "approve", """{"i":-1}""", Start, Start), [])], default);

        // 200 waiting (a few pages): any plan is cheap; left alone.
        Wait(0, 200);
        await SendAsync("e1");
        await statistics.Checked;
        Assert.Equal(-1, Described());

        // A burst to 5,000, never analyzed: within 10 s of the last check nothing runs; after, the next event analyzes them.
        Wait(200, 5000);
        await SendAsync("e2");
        await statistics.Checked;
        Assert.Equal(-1, Described());
        Time.Advance(TimeSpan.FromSeconds(11));
        await SendAsync("e3");
        await statistics.Checked;
        Assert.InRange(Described(), 4900, 5100);
    }

    [Fact]
    public async Task Claim_FromSeveralNodesAtOnce_EachRunGoesToExactlyOneNode()
    {
        await Storage.Runs.CreateAsync([.. Enumerable.Range(0, 300).Select(i => new NewRun($"r{i:000}", "f", "[]", Start, Start, null))], default);
        var nodes = Enumerable.Range(0, 4).Select(_ => Database.Create(Time)).ToList();
        foreach (var node in nodes)
        {
            await node.InitializeAsync(default);
        }

        var claims = await Task.WhenAll(nodes.Select(async (node, i) =>
        {
            var mine = new List<string>();
            while (true)
            {
                var batch = await node.Queue.ClaimAsync($"node-{i}", ["f"], 7, TimeSpan.FromMinutes(1), new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default);
                if (batch.Count == 0)
                {
                    return mine;
                }

                mine.AddRange(batch.Select(c => c.Lease.RunId));
            }
        }));

        foreach (var node in nodes)
        {
            await node.DisposeAsync();
        }

        var all = claims.SelectMany(c => c).ToList();
        Assert.Equal(300, all.Count);
        Assert.Equal(300, all.Distinct().Count());
    }

    [Fact]
    public async Task Initialize_FromSeveralNodesAtOnce_MigratesOnce()
    {
        var fresh = new PostgresTestStorage(Postgres.Server);
        try
        {
            var nodes = Enumerable.Range(0, 5).Select(_ => fresh.Create(Time)).ToList();
            await Task.WhenAll(nodes.Select(n => n.InitializeAsync(default)));
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            Assert.Equal(1, fresh.Scalar("SELECT COUNT(*) FROM schema_version"));
            Assert.Equal(PostgreSqlSchema.Version, fresh.Scalar("SELECT MAX(version) FROM schema_version"));
        }
        finally
        {
            fresh.Dispose();
        }
    }

    [Fact]
    public async Task SubscribeToWork_NotifiesOtherNodesWhenRunsAreCreated()
    {
        var notified = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var other = Database.Create(Time);
        await other.InitializeAsync(default);
        var calls = 0;
        using var subscription = other.Queue.SubscribeToWork(() =>
        {
            // The first call comes when the listener connects; the second is the notification.
            if (Interlocked.Increment(ref calls) >= 2)
            {
                notified.TrySetResult();
            }
        });
        await TestHost.EventuallyAsync(() => Task.FromResult(Volatile.Read(ref calls) >= 1), "the listener is connected");

        await Storage.Runs.CreateAsync([new NewRun("r", "f", "[]", Start, Start, null)], default);

        await notified.Task.WaitAsync(TestHost.Timeout);
    }

    [Fact]
    public async Task Initialize_UnreachableServer_SaysWhichServerCannotBeReached()
    {
        await using var storage = new PostgreSqlStorage(NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=x;Timeout=3"), true, new PostgreSqlOptions(), Time, NullLoggerFactory.Instance);

        var error = await Assert.ThrowsAsync<BatonException>(() => storage.InitializeAsync(default));

        Assert.Contains("Cannot reach PostgreSQL at 127.0.0.1:1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Initialize_WrongCredentials_SaysTheCredentialsWereRefused()
    {
        var server = new NpgsqlConnectionStringBuilder(Postgres.Server.ConnectionString);
        await using (var admin = NpgsqlDataSource.Create(Postgres.Server.ConnectionString))
        {
            await using var create = admin.CreateCommand("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'baton_pw') THEN CREATE ROLE baton_pw LOGIN PASSWORD 'right'; END IF; END $$;");
            await create.ExecuteNonQueryAsync();
        }

        var wrong = new NpgsqlConnectionStringBuilder(Postgres.Server.ConnectionString) { Username = "no_such_user_" + Guid.NewGuid().ToString("N")[..6], Password = "wrong" };
        await using var storage = new PostgreSqlStorage(NpgsqlDataSource.Create(wrong.ConnectionString), true, new PostgreSqlOptions { Schema = Postgres.Schema }, Time, NullLoggerFactory.Instance);

        var error = await Assert.ThrowsAsync<BatonException>(() => storage.InitializeAsync(default));

        // A trust-auth test server accepts any password, but not a role that does not exist (28000).
        Assert.Contains($"refused the credentials of user '{wrong.Username}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Initialize_MissingPermissions_SaysWhichPermissionIsMissing()
    {
        var role = "baton_ro_" + Guid.NewGuid().ToString("N")[..8];
        await using (var admin = NpgsqlDataSource.Create(Postgres.Server.ConnectionString))
        {
            await using var create = admin.CreateCommand($"CREATE ROLE {role} LOGIN; REVOKE CREATE ON DATABASE postgres FROM PUBLIC; REVOKE CREATE ON SCHEMA public FROM PUBLIC;");
            await create.ExecuteNonQueryAsync();
        }

        var limited = new NpgsqlConnectionStringBuilder(Postgres.Server.ConnectionString) { Username = role };
        await using var storage = new PostgreSqlStorage(NpgsqlDataSource.Create(limited.ConnectionString), true, new PostgreSqlOptions { Schema = Postgres.Schema }, Time, NullLoggerFactory.Instance);

        var error = await Assert.ThrowsAsync<BatonException>(() => storage.InitializeAsync(default));

        Assert.Contains($"user '{role}' lacks a permission", error.Message, StringComparison.Ordinal);
        Assert.Contains("Grant it CREATE", error.Message, StringComparison.Ordinal);
    }
}

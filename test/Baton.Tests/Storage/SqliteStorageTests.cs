using Baton.Sqlite;
using Baton.Storage;
using Baton.Tests.Infrastructure;

namespace Baton.Tests.Storage;

public sealed class SqliteStorageTests : StorageContractTests, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override TestStorage NewStorage() => new SqliteTestStorage();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task EventFromAnotherConnection_StartsItsRunAtOnce_NotAtTheWorkersNextPoll()
    {
        // Two nodes on one file, as an app and `baton dev` (or two processes) are: each has its own connections.
        using var storage = new SqliteTestStorage();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var worker = await TestHost.StartAsync(
            b => b.AddFunction<object>("greet", f => f.TriggerOn("demo/hello"), _ =>
            {
                started.TrySetResult();
                return Task.CompletedTask;
            }),
            storage,
            options: o => o.PollInterval = TimeSpan.FromHours(1));
        await using var sender = await TestHost.StartAsync(_ => { }, storage, options: o => o.RunWorker = false);

        await sender.Client.SendAsync(new BatonEvent("demo/hello"));

        // Only the change watcher can tell the idle worker: its poll is an hour away.
        await started.Task.WaitAsync(TestHost.Timeout);
    }

    [Fact]
    public void ChangePollInterval_MustBePositiveOrNull()
    {
        Assert.Contains(new SqliteOptions { ChangePollInterval = TimeSpan.Zero }.Validate(), p => p.Contains("ChangePollInterval", StringComparison.Ordinal));
        Assert.Empty(new SqliteOptions { ChangePollInterval = null }.Validate());
    }

    [Fact]
    public async Task ConcurrentCheckpoints_AreGroupCommittedIntoFewTransactions()
    {
        var runs = Enumerable.Range(0, 200).Select(i => new NewRun($"r{i}", "f", "[]", Start, Start, null)).ToList();
        await Storage.Runs.CreateAsync(runs, default);
        var leases = (await Storage.Queue.ClaimAsync("w", ["f"], 200, TimeSpan.FromMinutes(1), new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Select(c => c.Lease).ToList();
        var sqlite = (SqliteStorage)Storage;
        var before = sqlite.WriterCounters;

        await Task.WhenAll(leases.Select(l => Storage.Queue.CheckpointAsync(l, new StepRecord("s", Baton.StepKind.Run, Baton.StepStatus.Completed, "1", null, 1, Start, Start, null), default)));

        var after = sqlite.WriterCounters;
        Assert.Equal(200, after.Operations - before.Operations);
        Assert.True(after.Commits - before.Commits < 200, $"200 concurrent checkpoints took {after.Commits - before.Commits} commits");
        Assert.Equal(200, Db.Scalar(sqlite.FilePath, "SELECT COUNT(*) FROM steps"));
    }

    [Fact]
    public async Task Reopen_DataWrittenBeforeIsThere()
    {
        await Storage.Runs.CreateAsync([new NewRun("kept", "f", "[]", Start, Start, null)], default);
        await Storage.DisposeAsync();

        await using var reopened = Database.Create(Time);
        await reopened.InitializeAsync(default);

        Assert.NotNull(await reopened.Runs.GetAsync("kept", default));
        Assert.Equal(SqliteSchema.Version, Database.Scalar("PRAGMA user_version"));
        Storage = Database.Create(Time);
    }

    [Theory]
    [InlineData(SqliteDurability.ProcessCrash, 1)]
    [InlineData(SqliteDurability.PowerLoss, 2)]
    public async Task Durability_SetsTheWritersSynchronousMode(SqliteDurability durability, long expected)
    {
        await using var storage = new SqliteStorage(_directory.File($"durability-{durability}.db"), new SqliteOptions { Durability = durability }, Time);
        await storage.InitializeAsync(default);

        Assert.Equal(expected, await storage.WriterSynchronousAsync());
        Assert.Equal("wal", Db.Rows(storage.FilePath, "PRAGMA journal_mode")[0][0]);
    }
}

using Baton.Storage;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Storage;

/// <summary>
/// The contract every storage provider passes. A provider's test class derives from this and supplies a fresh, empty
/// database; the stores run on a fake clock.
/// </summary>
public abstract class StorageContractTests : IAsyncLifetime
{
    protected static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    protected FakeTimeProvider Time { get; } = new(Start);

    protected IBatonStorage Storage { get; set; } = null!;

    protected TestStorage Database { get; private set; } = null!;

    protected abstract TestStorage NewStorage();

    public async Task InitializeAsync()
    {
        Database = NewStorage();
        Storage = Database.Create(Time);
        await Storage.InitializeAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await Storage.DisposeAsync();
        Database.Dispose();
    }

    private EventRecord Event(string id, string name = "e") => new(id, name, """{"n":1}""", Start, Time.GetUtcNow());

    private NewRun Run(string id, string function = "f", DateTimeOffset? available = null, string? eventId = null) =>
        new(id, function, $$"""[{"id":"{{eventId ?? id}}","name":"e","data":{},"ts":0}]""", Time.GetUtcNow(), available ?? Time.GetUtcNow(), eventId);

    private static StepRecord Step(string key, StepStatus status = StepStatus.Completed, string? output = "1") =>
        new(key, StepKind.Run, status, output, null, 1, Start, Start, null);

    [Fact]
    public async Task AppendEvents_RepeatedId_IsSkippedWithItsRuns()
    {
        var first = await Storage.Events.AppendAsync([new EventAppend(Event("e1"), [Run("r1", eventId: "e1")])], default);
        var again = await Storage.Events.AppendAsync([new EventAppend(Event("e1"), [Run("r2", eventId: "e1")]), new EventAppend(Event("e2"), [])], default);

        Assert.Equal([true], first.Accepted);
        Assert.Equal(["r1"], first.CreatedRuns);
        Assert.Equal([false, true], again.Accepted);
        Assert.Empty(again.CreatedRuns);
        Assert.NotNull(await Storage.Runs.GetAsync("r1", default));
        Assert.Null(await Storage.Runs.GetAsync("r2", default));
        Assert.Equal("""{"n":1}""", (await Storage.Events.GetAsync("e1", default))!.DataJson);
    }

    [Fact]
    public async Task CreateRuns_IdempotencyKey_HeldUntilItExpires()
    {
        NewRun Keyed(string id, DateTimeOffset at) => new NewRun(id, "f", "[]", at, at, null) { IdempotencyKey = "k", IdempotentUntil = at.AddHours(1) };

        var first = await Storage.Runs.CreateAsync([Keyed("a", Start), Keyed("b", Start)], default);
        var repeat = await Storage.Runs.CreateAsync([Keyed("c", Start.AddMinutes(59))], default);
        var later = await Storage.Runs.CreateAsync([Keyed("d", Start.AddHours(1))], default);

        Assert.Equal(["a", "a"], first);
        Assert.Equal(["a"], repeat);
        Assert.Equal(["d"], later);
        Assert.Null(await Storage.Runs.GetAsync("b", default));
        Assert.Null(await Storage.Runs.GetAsync("c", default));
        Assert.NotNull(await Storage.Runs.GetAsync("d", default));
    }

    [Fact]
    public async Task Claim_PausedOrUnservedQueue_IsNotClaimed()
    {
        await Storage.Runs.CreateAsync([Run("a"), Run("b") with { QueueName = "gpu" }], default);
        await Storage.Queue.SetQueuePausedAsync("default", true, default);
        await Storage.Queue.SetQueuePausedAsync("other", true, default);
        await Storage.Queue.SetQueuePausedAsync("other", false, default);

        Assert.Equal(["default"], await Storage.Queue.PausedQueuesAsync(default));
        Assert.Empty(await Storage.Queue.ClaimAsync("w", ["f"], 10, Lease, new Dictionary<string, ConcurrencyRule>(), ["default"], default));
        Assert.Equal(["b"], (await Storage.Queue.ClaimAsync("w", ["f"], 10, Lease, new Dictionary<string, ConcurrencyRule>(), null, default)).Select(c => c.Lease.RunId));

        await Storage.Queue.SetQueuePausedAsync("default", false, default);
        Assert.Equal(["a"], (await Storage.Queue.ClaimAsync("w", ["f"], 10, Lease, new Dictionary<string, ConcurrencyRule>(), ["default"], default)).Select(c => c.Lease.RunId));
    }

    [Fact]
    public async Task Claim_TakesDueRunsOfKnownFunctionsOnly_UpToMax()
    {
        await Storage.Runs.CreateAsync([Run("a"), Run("b"), Run("c"), Run("other", function: "g"), Run("later", available: Start.AddMinutes(5))], default);

        var claimed = await Storage.Queue.ClaimAsync("w1", ["f"], 2, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default);
        var rest = await Storage.Queue.ClaimAsync("w1", ["f"], 10, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default);

        Assert.Equal(2, claimed.Count);
        Assert.Equal(["a", "b", "c"], claimed.Concat(rest).Select(c => c.Lease.RunId).Order());
        Assert.All(claimed, c => Assert.Equal("w1", c.Lease.Owner));

        // A run's first claim has token 1: the engine relies on it to skip reading an empty journal.
        Assert.All(claimed, c => Assert.Equal(1, c.Lease.Token));
        Assert.Equal(RunStatus.Running, (await Storage.Runs.GetAsync("a", default))!.Status);
        // The next time anything becomes claimable: here the claimed runs' lease expiry, before the delayed run.
        Assert.Equal(Start + Lease, await Storage.Queue.NextDueAsync(default));
    }

    [Fact]
    public async Task Claim_LeaseExpired_RunIsReclaimedAndTheOldLeaseIsFenced()
    {
        await Storage.Runs.CreateAsync([Run("r")], default);
        var old = Assert.Single(await Storage.Queue.ClaimAsync("dead", ["f"], 10, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Lease;
        Assert.Empty(await Storage.Queue.ClaimAsync("alive", ["f"], 10, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default));

        Time.Advance(Lease + TimeSpan.FromSeconds(1));
        var fresh = Assert.Single(await Storage.Queue.ClaimAsync("alive", ["f"], 10, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Lease;

        Assert.True(fresh.Token > old.Token);
        await Assert.ThrowsAsync<LeaseLostException>(() => Storage.Queue.CheckpointAsync(old, Step("s"), default));
        await Assert.ThrowsAsync<LeaseLostException>(() => Storage.Queue.CompleteAsync(old, new RunCompletion(RunStatus.Completed, "1", null, Start, []), default));
        await Assert.ThrowsAsync<LeaseLostException>(() => Storage.Queue.SuspendAsync(old, new RunSuspension(Start, RunStatus.Waiting, 0), default));
        Assert.Empty(await Storage.Runs.GetStepsAsync("r", default));
        await Storage.Queue.CheckpointAsync(fresh, Step("s"), default);
        Assert.Single(await Storage.Runs.GetStepsAsync("r", default));
    }

    [Fact]
    public async Task UpdateMetadata_IsFencedByTheWritersLease_AndBoundedByItsLimits()
    {
        await Storage.Runs.CreateAsync([Run("parent"), Run("child")], default);
        var claimed = await Storage.Queue.ClaimAsync("dead", ["f"], 10, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default);
        var old = claimed.Single(c => c.Lease.RunId == "child").Lease;
        var progress = new RunMetadataPatch("""{"value":0.5}""", null, null, null);

        // The child reports on itself and on its parent under its own lease.
        Assert.True(await Storage.Runs.UpdateMetadataAsync(old, "child", progress, 1000, 10, default));
        Assert.True(await Storage.Runs.UpdateMetadataAsync(old, "parent", new RunMetadataPatch(null, "k", "1", null), 1000, 10, default));
        Assert.False(await Storage.Runs.UpdateMetadataAsync(old, "parent", new RunMetadataPatch(null, "big", $"\"{new string('x', 2000)}\"", null), 1000, 10, default));

        // Its lease expires and another worker takes the child: the stale execution writes nothing more.
        Time.Advance(Lease + TimeSpan.FromSeconds(1));
        var fresh = (await Storage.Queue.ClaimAsync("alive", ["f"], 10, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Single(c => c.Lease.RunId == "child").Lease;
        await Assert.ThrowsAsync<LeaseLostException>(() => Storage.Runs.UpdateMetadataAsync(old, "child", new RunMetadataPatch("""{"value":0.9}""", null, null, null), 1000, 10, default));
        await Assert.ThrowsAsync<LeaseLostException>(() => Storage.Runs.UpdateMetadataAsync(old, "parent", new RunMetadataPatch(null, "k", "2", null), 1000, 10, default));
        Assert.Equal("""{"value":0.5}""", (await Storage.Runs.GetAsync("child", default))!.ProgressJson);
        Assert.Contains("\"k\":1", (await Storage.Runs.GetAsync("parent", default))!.MetadataJson!.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.True(await Storage.Runs.UpdateMetadataAsync(fresh, "child", new RunMetadataPatch("""{"value":0.9}""", null, null, null), 1000, 10, default));
        Assert.Equal("""{"value":0.9}""", (await Storage.Runs.GetAsync("child", default))!.ProgressJson);
    }

    [Fact]
    public async Task Renew_ExtendsTheGivenLeasesOnlyAndReportsWhatIsHeld()
    {
        await Storage.Runs.CreateAsync([Run("r1"), Run("r2"), Run("r3")], default);
        var leases = (await Storage.Queue.ClaimAsync("w", ["f"], 10, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).ToDictionary(c => c.Lease.RunId, c => c.Lease);
        var stale = leases["r3"] with { Token = leases["r3"].Token + 5 };

        Time.Advance(TimeSpan.FromSeconds(20));
        var held = await Storage.Queue.RenewAsync([leases["r1"], leases["r2"], stale], Lease, default);
        Time.Advance(TimeSpan.FromSeconds(20));

        Assert.Equal(["r1", "r2"], held.Order());

        // r3's lease was not renewed (its token did not match), so it expired and can be claimed again.
        Assert.Equal(["r3"], (await Storage.Queue.ClaimAsync("thief", ["f"], 10, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Select(c => c.Lease.RunId));
        Assert.Empty(await Storage.Queue.RenewAsync([], Lease, default));
    }

    [Fact]
    public async Task ExpireLeases_OfADeadOwner_MakesItsRunsClaimableNow()
    {
        await Storage.Runs.CreateAsync([Run("r1"), Run("r2"), Run("mine")], default);
        await Storage.Queue.ClaimAsync("dead", ["f"], 2, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default);
        await Storage.Queue.ClaimAsync("alive", ["f"], 1, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default);

        Assert.Equal(["alive", "dead"], (await Storage.Queue.LeaseOwnersAsync(default)).Order());
        Assert.Equal(2, await Storage.Queue.ExpireLeasesAsync("dead", default));

        Assert.Equal(["r1", "r2"], (await Storage.Queue.ClaimAsync("heir", ["f"], 10, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Select(c => c.Lease.RunId).Order());
    }

    [Fact]
    public async Task Checkpoint_SameKeyTwice_UpdatesTheEntryAndKeepsItsPlace()
    {
        await Storage.Runs.CreateAsync([Run("r")], default);
        var lease = Assert.Single(await Storage.Queue.ClaimAsync("w", ["f"], 1, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Lease;

        await Storage.Queue.CheckpointAsync(lease, Step("a", StepStatus.Retrying, null) with { Error = new RunError("E", "boom"), WakeAt = Start.AddSeconds(5) }, default);
        await Storage.Queue.CheckpointAsync(lease, Step("b"), default);
        await Storage.Queue.CheckpointAsync(lease, Step("a", StepStatus.Completed, "\"done\"") with { Attempts = 2 }, default);
        var steps = await Storage.Runs.GetStepsAsync("r", default);

        Assert.Equal(["a", "b"], steps.Select(s => s.Key));
        Assert.Equal(StepStatus.Completed, steps[0].Status);
        Assert.Equal("\"done\"", steps[0].OutputJson);
        Assert.Equal(2, steps[0].Attempts);
        Assert.Null(steps[0].Error);
    }

    [Fact]
    public async Task FirstAttemptCheckpoint_OfAKeyAlreadyWritten_ReplacesIt_AndTheWritesBesideItLand()
    {
        // The engine writes a step's first attempt once; a store that writes it faster for that must still replace an entry.
        await Storage.Runs.CreateAsync([.. Enumerable.Range(0, 20).Select(i => Run($"r{i:00}"))], default);
        var leases = (await Storage.Queue.ClaimAsync("w", ["f"], 20, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default))
            .ToDictionary(c => c.Lease.RunId, c => c.Lease);
        await Storage.Queue.CheckpointAsync(leases["r00"], Step("a", StepStatus.Retrying, null) with { Error = new RunError("E", "timed out") }, default);

        await Task.WhenAll(leases.Values.Select(l => Storage.Queue.CheckpointAsync(l, Step("a", output: $"\"{l.RunId}\""), default)));

        foreach (var runId in leases.Keys)
        {
            var step = Assert.Single(await Storage.Runs.GetStepsAsync(runId, default));
            Assert.Equal(StepStatus.Completed, step.Status);
            Assert.Equal($"\"{runId}\"", step.OutputJson);
            Assert.Null(step.Error);
        }
    }

    [Fact]
    public async Task Suspend_RunComesBackWhenDue()
    {
        await Storage.Runs.CreateAsync([Run("r")], default);
        var lease = Assert.Single(await Storage.Queue.ClaimAsync("w", ["f"], 1, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Lease;

        await Storage.Queue.SuspendAsync(lease, new RunSuspension(Start.AddHours(1), RunStatus.Waiting, 2), default);

        Assert.Equal(RunStatus.Waiting, (await Storage.Runs.GetAsync("r", default))!.Status);
        Assert.Equal(Start.AddHours(1), await Storage.Queue.NextDueAsync(default));
        Assert.Empty(await Storage.Queue.ClaimAsync("w", ["f"], 1, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default));
        Time.Advance(TimeSpan.FromHours(1));
        var again = Assert.Single(await Storage.Queue.ClaimAsync("w2", ["f"], 1, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default));
        Assert.Equal(2, again.Attempt);
        Assert.True(again.Lease.Token > lease.Token);
    }

    [Fact]
    public async Task Release_RunIsDueAtOnceForAnyWorker()
    {
        await Storage.Runs.CreateAsync([Run("r")], default);
        var lease = Assert.Single(await Storage.Queue.ClaimAsync("w", ["f"], 1, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Lease;

        await Storage.Queue.ReleaseAsync(lease, default);

        Assert.Equal(RunStatus.Queued, (await Storage.Runs.GetAsync("r", default))!.Status);
        Assert.Single(await Storage.Queue.ClaimAsync("w2", ["f"], 1, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default));
    }

    [Fact]
    public async Task Complete_EndsTheRunAndAppendsEmittedEventsAtomically()
    {
        await Storage.Runs.CreateAsync([Run("r")], default);
        var lease = Assert.Single(await Storage.Queue.ClaimAsync("w", ["f"], 1, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Lease;
        Time.Advance(TimeSpan.FromSeconds(3));

        await Storage.Queue.CompleteAsync(lease, new RunCompletion(RunStatus.Failed, null, new RunError("E", "bad"), Time.GetUtcNow(), [new EventAppend(Event("done"), [Run("handler", function: "h")])]), default);

        var run = (await Storage.Runs.GetAsync("r", default))!;
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal("bad", run.Error!.Message);
        Assert.Equal(Start.AddSeconds(3), run.EndedAt);
        Assert.Equal(Start, run.StartedAt);
        Assert.NotNull(await Storage.Events.GetAsync("done", default));
        Assert.Null(await Storage.Queue.NextDueAsync(default));
        Assert.Single(await Storage.Queue.ClaimAsync("w", ["h"], 1, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default));
        Assert.Empty(await Storage.Queue.ClaimAsync("w", ["f"], 1, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default));
    }

    [Fact]
    public async Task ConcurrentWrites_OneFenced_OthersStillCommit()
    {
        await Storage.Runs.CreateAsync([Run("a"), Run("b")], default);
        var leases = (await Storage.Queue.ClaimAsync("w", ["f"], 2, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Select(c => c.Lease).ToList();
        var stale = leases[0] with { Token = leases[0].Token - 1 };

        var good = Storage.Queue.CheckpointAsync(leases[1], Step("s"), default);
        var bad = Storage.Queue.CheckpointAsync(stale, Step("s"), default);

        await good;
        await Assert.ThrowsAsync<LeaseLostException>(() => bad);
        Assert.Single(await Storage.Runs.GetStepsAsync(leases[1].RunId, default));
        Assert.Empty(await Storage.Runs.GetStepsAsync(leases[0].RunId, default));
    }

    [Fact]
    public async Task ManyConcurrentCheckpointsAndEnds_StaleLeasesAmongThem_EachWriteAnswersForItself()
    {
        // Sent at once, these land in the same group commit (PostgreSQL folds same-kind statements into one): every
        // write must still be fenced by its own lease and report its own outcome.
        await Storage.Runs.CreateAsync([.. Enumerable.Range(0, 60).Select(i => Run($"r{i}"))], default);
        var leases = (await Storage.Queue.ClaimAsync("w", ["f"], 60, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default))
            .Select(c => c.Lease).OrderBy(l => l.RunId, StringComparer.Ordinal).ToList();
        Assert.Equal(60, leases.Count);
        static bool Stale(int i) => i % 7 == 3;
        RunLease LeaseOf(int i) => Stale(i) ? leases[i] with { Token = leases[i].Token - 1 } : leases[i];

        var checkpoints = Enumerable.Range(0, 60).Select(i => (i, Task: Storage.Queue.CheckpointAsync(LeaseOf(i), Step($"s{i % 3}", output: $"{i}"), default))).ToList();
        foreach (var (i, task) in checkpoints)
        {
            if (Stale(i))
            {
                await Assert.ThrowsAsync<LeaseLostException>(() => task);
            }
            else
            {
                await task;
            }
        }

        var ends = Enumerable.Range(0, 30).Select(i => (i, Task: Storage.Queue.CompleteAsync(LeaseOf(i), new RunCompletion(RunStatus.Completed, $"\"done {i}\"", null, Start, []), default))).ToList();
        foreach (var (i, task) in ends)
        {
            if (Stale(i))
            {
                await Assert.ThrowsAsync<LeaseLostException>(() => task);
            }
            else
            {
                await task;
            }
        }

        for (var i = 0; i < 60; i++)
        {
            var steps = await Storage.Runs.GetStepsAsync(leases[i].RunId, default);
            var run = (await Storage.Runs.GetAsync(leases[i].RunId, default))!;
            if (Stale(i))
            {
                Assert.Empty(steps);
                Assert.Equal(RunStatus.Running, run.Status);
                continue;
            }

            var step = Assert.Single(steps);
            Assert.Equal(($"s{i % 3}", $"{i}"), (step.Key, step.OutputJson));
            Assert.Equal(i < 30 ? RunStatus.Completed : RunStatus.Running, run.Status);
            Assert.Equal(i < 30 ? $"\"done {i}\"" : null, run.OutputJson);
        }
    }

    [Fact]
    public async Task Purge_DeletesEndedRunsWithStepsAndOldEvents_KeepsUnfinishedRuns()
    {
        await Storage.Events.AppendAsync([new EventAppend(Event("old-event"), [Run("ended", eventId: "old-event"), Run("unfinished"), Run("ended-lately")])], default);
        var leases = (await Storage.Queue.ClaimAsync("w", ["f"], 3, Lease, new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).ToDictionary(c => c.Lease.RunId, c => c.Lease);
        await Storage.Queue.CheckpointAsync(leases["ended"], Step("s"), default);
        await Storage.Queue.CompleteAsync(leases["ended"], new RunCompletion(RunStatus.Completed, "1", null, Start, []), default);
        await Storage.Runs.StoreLargeValueAsync("v-ended", "ended", [1, 2, 3], 3, default);
        await Storage.Runs.StoreLargeValueAsync("v-unfinished", "unfinished", [4], 1, default);
        await Storage.Runs.StoreLargeValueAsync("v-orphan", "never-created", [5], 1, default);

        Time.Advance(TimeSpan.FromDays(10));

        // Created before the cutoff but ended after it: kept, like every run that ended within the retention.
        await Storage.Queue.RenewAsync([leases["ended-lately"]], Lease, default);
        await Storage.Queue.CompleteAsync(leases["ended-lately"], new RunCompletion(RunStatus.Completed, "2", null, Time.GetUtcNow(), []), default);
        await Storage.Runs.StoreLargeValueAsync("v-new-orphan", "being-created", [6], 1, default);
        await Storage.Events.AppendAsync([new EventAppend(Event("new-event"), [])], default);
        var deleted = await Storage.Runs.PurgeAsync(Time.GetUtcNow() - TimeSpan.FromDays(7), 100, default);

        Assert.Equal(2, deleted);
        Assert.Null(await Storage.Runs.GetAsync("ended", default));
        Assert.Empty(await Storage.Runs.GetStepsAsync("ended", default));
        Assert.Null(await Storage.Events.GetAsync("old-event", default));
        Assert.NotNull(await Storage.Events.GetAsync("new-event", default));
        Assert.NotNull(await Storage.Runs.GetAsync("unfinished", default));
        Assert.Equal(RunStatus.Completed, (await Storage.Runs.GetAsync("ended-lately", default))!.Status);

        // Large values go with their run; one whose run never came to be goes once it is older than the cutoff.
        Assert.Null(await Storage.Runs.LoadLargeValueAsync("v-ended", default));
        Assert.Null(await Storage.Runs.LoadLargeValueAsync("v-orphan", default));
        Assert.Equal([4], await Storage.Runs.LoadLargeValueAsync("v-unfinished", default));
        Assert.Equal([6], await Storage.Runs.LoadLargeValueAsync("v-new-orphan", default));
        Assert.Equal(0, await Storage.Runs.PurgeAsync(Time.GetUtcNow() - TimeSpan.FromDays(7), 100, default));
    }

    [Fact]
    public async Task Functions_RegisterTwice_KeepsOneEntryPerId()
    {
        await Storage.Functions.RegisterAsync([new FunctionRegistration("f", ["a", "b"], "{}", "h1", Start)], default);
        await Storage.Functions.RegisterAsync([new FunctionRegistration("f", ["b", "c"], """{"v":2}""", "h2", Start), new FunctionRegistration("g", ["c"], "{}", "h", Start)], default);

        var all = await Storage.Functions.ListAsync(default);
        Assert.Equal(["f", "g"], all.Select(f => f.Id));
        Assert.Equal("h2", all[0].Hash);
        Assert.Equal(["b", "c"], all[0].Triggers.Order());
        Assert.True(await Storage.Functions.ExistsAsync("g", default));
        Assert.False(await Storage.Functions.ExistsAsync("h", default));
        var matches = await Storage.Functions.FindTriggeredAsync(["a", "c"], default);
        Assert.Equal([new TriggerMatch("c", "f"), new TriggerMatch("c", "g")], matches);
    }

    [Fact]
    public async Task Initialize_Twice_IsHarmlessAndHealthy()
    {
        await Storage.InitializeAsync(default);
        await Storage.CheckHealthAsync(default);
    }
}

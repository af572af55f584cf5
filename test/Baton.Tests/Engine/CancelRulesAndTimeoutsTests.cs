using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class CancelRulesAndTimeoutsTests : EngineTests
{
    public sealed record Doc(string DocId, string Owner = "ann");

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    private static Action<BatonBuilder> Sleeper(Counter counter, Action<FunctionOptions> configure) =>
        b => b.AddFunction<Doc>("sleeper", f =>
        {
            f.TriggerOn("doc/uploaded");
            configure(f);
        }, async ctx =>
        {
            await ctx.Step.Run("start", () => counter.Hit("start"));
            await ctx.Step.Sleep("nap", TimeSpan.FromHours(2));
            await ctx.Step.Run("end", () => counter.Hit("end"));
        });

    [Fact]
    public async Task CancelOn_MatchingEvent_CancelsOnlyTheMatchingWaitingRun()
    {
        var counter = new Counter();
        await using var host = await StartAsync(Sleeper(counter, f => f.CancelOnEvent("doc/deleted", match: "data.docId")));
        var runs = (await host.Client.SendAsync([new BatonEvent("doc/uploaded", new Doc("d1")), new BatonEvent("doc/uploaded", new Doc("d2"))])).RunIds;
        await TestHost.EventuallyAsync(async () => (await Task.WhenAll(runs.Select(host.StatusAsync))).All(s => s == RunStatus.Waiting), "both runs sleep");

        var deleted = await host.Client.SendAsync(new BatonEvent("doc/deleted", new Doc("d1")));

        var cancelled = (await host.Client.GetRunAsync(runs[0]))!;
        Assert.Equal(RunStatus.Cancelled, cancelled.Status);
        Assert.Equal($"Cancelled by event 'doc/deleted' ({deleted.Ids[0]}).", cancelled.Error!.Message);
        Assert.Equal(RunStatus.Waiting, await host.StatusAsync(runs[1]));
        Assert.Equal(1, host.Storage.Scalar("SELECT COUNT(*) FROM waits"));
    }

    [Fact]
    public async Task CancelOn_Condition_CancelsOnlyWhenItHolds()
    {
        var counter = new Counter();
        await using var host = await StartAsync(Sleeper(counter, f => f.CancelOnEvent("user/left", @if: "async.data.owner == event.data.owner")));
        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1", Owner: "ann")))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps");

        await host.Client.SendAsync(new BatonEvent("user/left", new Doc("x", Owner: "bob")));
        Assert.Equal(RunStatus.Waiting, await host.StatusAsync(runId));

        await host.Client.SendAsync(new BatonEvent("user/left", new Doc("x", Owner: "ann")));
        Assert.Equal(RunStatus.Cancelled, await host.StatusAsync(runId));
    }

    [Fact]
    public async Task CancelOn_QueuedRun_IsCancelledBeforeItEverRuns()
    {
        using var storage = NewStorage();
        var counter = new Counter();
        string runId;

        // A node without a worker accepts the event: the run is queued, and its cancel rule comes from the catalog.
        await using (var registered = await StartAsync(Sleeper(counter, f => f.CancelOnEvent("doc/deleted", match: "data.docId")), storage, options: o => o.RunWorker = false))
        {
        }

        await using (var sender = await StartAsync(_ => { }, storage, options: o => o.RunWorker = false))
        {
            runId = Assert.Single((await sender.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1")))).RunIds);
            await sender.Client.SendAsync(new BatonEvent("doc/deleted", new Doc("d1")));
            Assert.Equal(RunStatus.Cancelled, await sender.StatusAsync(runId));
        }

        await using var worker = await StartAsync(Sleeper(counter, f => f.CancelOnEvent("doc/deleted", match: "data.docId")), storage);
        var other = Assert.Single((await worker.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d2")))).RunIds);
        await TestHost.EventuallyAsync(async () => await worker.StatusAsync(other) == RunStatus.Waiting, "a later run executes");
        Assert.Equal(1, counter["start"]);
        Assert.Equal(RunStatus.Cancelled, await worker.StatusAsync(runId));
    }

    [Fact]
    public async Task CancelOn_InvalidRules_FailStartupWithEveryProblem()
    {
        using var storage = NewStorage();
        using var host = Build(b => b.AddFunction<Doc>("bad", f => f
                .CancelOnEvent(" spaced ")
                .CancelOnEvent("doc/deleted", match: "docId")
                .CancelOnEvent("doc/deleted", @if: "async.data.x == ")
                .Timeouts.Finish = TimeSpan.Zero, _ => Task.CompletedTask),
            storage);

        var error = await Assert.ThrowsAsync<BatonConfigurationException>(() => host.StartAsync());

        Assert.Equal(4, error.Problems.Count);
        Assert.Contains(error.Problems, p => p.Contains("' spaced ' is not a valid event name", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("match 'docId' is not a match path", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("is invalid at column 17", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("Timeouts.Finish is 00:00:00", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StartTimeout_RunNotStartedInTime_ExpiresWithoutRunning()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var counter = new Counter();
        Action<FunctionOptions> timeouts = f => f.Timeouts.Start = TimeSpan.FromMinutes(5);
        string late, onTime;
        await using (var sender = await StartAsync(Sleeper(counter, timeouts), storage, time, o => o.RunWorker = false))
        {
            late = Assert.Single((await sender.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("late")))).RunIds);
            time.Advance(TimeSpan.FromMinutes(4));
            onTime = Assert.Single((await sender.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("on-time")))).RunIds);
            time.Advance(TimeSpan.FromMinutes(2));
        }

        await using var worker = await StartAsync(Sleeper(counter, timeouts), storage, time);
        var expired = await worker.WaitAsync(late);
        await TestHost.EventuallyAsync(async () => await worker.StatusAsync(onTime) == RunStatus.Waiting, "the run created in time starts");

        Assert.Equal(RunStatus.Expired, expired.Status);
        Assert.Equal("Baton.StartTimeout", expired.Error!.Type);
        Assert.Empty(expired.Steps);
        Assert.Equal(1, counter["start"]);
    }

    [Fact]
    public async Task FinishTimeout_RunStillSleepingAtTheDeadline_IsTimedOut()
    {
        var time = new FakeTimeProvider(Start);
        var counter = new Counter();
        await using var host = await StartAsync(Sleeper(counter, f => f.Timeouts.Finish = TimeSpan.FromHours(1)), time: time);
        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1")))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps");

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await host.StatusAsync(runId)).IsTerminal());
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.TimedOut, run.Status);
        Assert.Equal("Baton.FinishTimeout", run.Error!.Type);
        Assert.Equal(0, counter["end"]);
    }

    public sealed class OnSqlite : CancelRulesAndTimeoutsTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : CancelRulesAndTimeoutsTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

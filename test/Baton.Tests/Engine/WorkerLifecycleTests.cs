using Baton.Storage;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class WorkerLifecycleTests : EngineTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Sleep_AcrossAHostRestart_WakesOnTimeAndCompletedStepsDoNotRunAgain()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var counter = new Counter();
        void Configure(BatonBuilder b) => b.AddFunction<object>("napper", null, async ctx =>
        {
            await ctx.Step.Run("before", () => counter.Hit("before"));
            await ctx.Step.Sleep("nap", TimeSpan.FromDays(1));
            await ctx.Step.Run("after", () => counter.Hit("after"));
        });

        string runId;
        await using (var first = await StartAsync(Configure, storage, time))
        {
            runId = await first.Client.TriggerAsync("napper");
            await TestHost.EventuallyAsync(async () => await first.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps");
        }

        await using var second = await StartAsync(Configure, storage, time);
        Assert.Equal(RunStatus.Waiting, await second.StatusAsync(runId));
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromDays(1), async () => (await second.StatusAsync(runId)).IsTerminal());

        var run = await second.WaitAsync(runId);
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(1, counter["before"]);
        Assert.Equal(1, counter["after"]);
        Assert.True(run.EndedAt >= Start.AddDays(1));

        // Waking wrote nothing for the sleep: its persisted due time says it is over, and the client reports it so.
        Assert.Equal((long)StepStatus.Waiting, storage.Scalar("SELECT status FROM steps WHERE key = 'nap'"));
        var nap = run.Steps.Single(s => s.Id == "nap");
        Assert.Equal((StepStatus.Completed, Start.AddDays(1)), (nap.Status, nap.EndedAt));
    }

    [Fact]
    public async Task Sleep_AlreadyDue_IsRecordedAsCompleted_AndDoesNotSleepAgainOnReplay()
    {
        var time = new FakeTimeProvider(Start);
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("no-nap", null, async ctx =>
        {
            await ctx.Step.SleepUntil("past", Start.AddDays(-1));
            await ctx.Step.Sleep("long", TimeSpan.FromHours(1));
            counter.Hit("after");
        }), time: time);

        var runId = await host.Client.TriggerAsync("no-nap");
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps the hour");
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await host.StatusAsync(runId)).IsTerminal());

        var run = await host.WaitAsync(runId);
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(1, counter["after"]);
        Assert.Equal(StepStatus.Completed, run.Steps.Single(s => s.Id == "past").Status);
        Assert.True(run.EndedAt < Start.AddHours(1).AddMinutes(5), $"the replay slept again: ended at {run.EndedAt}");
    }

    [Fact]
    public async Task SleepingRuns_HoldNoWorkerSlot()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(
            b => b
                .AddFunction<object>("sleeper", null, async ctx => await ctx.Step.Sleep("long", TimeSpan.FromDays(7)))
                .AddFunction<object>("quick", null, async ctx => await ctx.Step.Run("q", () => "done")),
            time: time,
            options: o => o.MaxConcurrentRuns = 1);

        var sleepers = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            sleepers.Add(await host.Client.TriggerAsync("sleeper"));
        }

        foreach (var id in sleepers)
        {
            await TestHost.EventuallyAsync(async () => await host.StatusAsync(id) == RunStatus.Waiting, "every sleeper suspends");
        }

        // With one slot and five sleepers, a new run can only finish if sleeping runs hold no slot.
        var quick = await host.WaitAsync(await host.Client.TriggerAsync("quick"));
        Assert.Equal(RunStatus.Completed, quick.Status);
    }

    [Fact]
    public async Task RunsInFlight_NeverExceedMaxConcurrentRuns_WhileClaimsOverlap()
    {
        var timeline = new ConcurrencyTests.Timeline();
        await using var host = await StartAsync(
            b => b.AddFunction<object>("busy", f => f.TriggerOn("work/queued"), async ctx =>
                await ctx.Step.Run("work", () => timeline.RecordAsync("busy", TimeSpan.FromMilliseconds(50)))),
            // A claim takes at most 4 and two may be out at once: the room counts what claims in flight asked for.
            options: o => (o.MaxConcurrentRuns, o.ClaimBatchSize) = (6, 4));

        // All queued at once, so the slots can fill: the worker, not the arrival of work, bounds what runs.
        var ids = (await host.Client.SendAsync(Enumerable.Range(0, 60).Select(i => new BatonEvent("work/queued", new { i })))).RunIds;
        foreach (var id in ids)
        {
            Assert.Equal(RunStatus.Completed, (await host.WaitAsync(id)).Status);
        }

        Assert.InRange(timeline.MaxOverlap(), 5, 6);
    }

    [Fact]
    public async Task Shutdown_InFlightStepFinishesAndIsCommitted_RestLeftToResume()
    {
        using var storage = NewStorage();
        var counter = new Counter();
        var inStep = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Configure(BatonBuilder b) => b.AddFunction<object>("long", null, async ctx =>
        {
            await ctx.Step.Run("slow", async () =>
            {
                counter.Hit("slow");
                inStep.TrySetResult();
                await release.Task;
                return "slow done";
            });
            await ctx.Step.Run("next", () => counter.Hit("next"));
        });

        string runId;
        var first = await StartAsync(Configure, storage);
        runId = await first.Client.TriggerAsync("long");
        await inStep.Task.WaitAsync(TestHost.Timeout);
        var stopping = first.StopAsync();

        // Stopping the host halts executions synchronously, before StopAsync first yields.
        Assert.True(first.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);
        Assert.False(stopping.IsCompleted, "shutdown waits for the step in flight");
        release.SetResult();
        await stopping;
        await first.DisposeAsync();

        var afterStop = storage.Rows("SELECT key, status FROM steps");
        Assert.Equal(["slow", "0"], Assert.Single(afterStop));
        Assert.Equal(0, counter["next"]);
        Assert.Equal((long)RunStatus.Queued, storage.Scalar($"SELECT status FROM runs WHERE id = '{runId}'"));

        await using var second = await StartAsync(Configure, storage);
        var run = await second.WaitAsync(runId);
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(1, counter["slow"]);
        Assert.Equal(1, counter["next"]);
    }

    [Fact]
    public async Task Shutdown_StepStillRunningAfterTheTimeout_IsCancelledAndRunsAgainAfterRestart()
    {
        using var storage = NewStorage();
        var counter = new Counter();
        var inStep = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstHost = true;
        void Configure(BatonBuilder b) => b.AddFunction<object>("stubborn", null, async ctx =>
            await ctx.Step.Run("slow", async s =>
            {
                counter.Hit("slow");
                inStep.TrySetResult();
                if (firstHost)
                {
                    // Honours its token, but would otherwise run far past the shutdown timeout.
                    await Task.Delay(TimeSpan.FromMinutes(10), s.CancellationToken);
                }

                return "done";
            }));

        var first = await StartAsync(Configure, storage, options: o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(200));
        var runId = await first.Client.TriggerAsync("stubborn");
        await inStep.Task.WaitAsync(TestHost.Timeout);
        await first.DisposeAsync();

        Assert.Equal((long)RunStatus.Queued, storage.Scalar($"SELECT status FROM runs WHERE id = '{runId}'"));
        Assert.Equal(0, storage.Scalar("SELECT COUNT(*) FROM steps"));

        firstHost = false;
        await using var second = await StartAsync(Configure, storage);
        var run = await second.WaitAsync(runId);
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(2, counter["slow"]);
    }

    [Fact]
    public async Task ExpiredLease_OfADeadWorker_IsRecoveredByALiveOne()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var counter = new Counter();

        // A worker claims the run and "dies": it never renews, completes or releases it.
        await using (var dead = storage.Create(time))
        {
            await dead.InitializeAsync(default);
            await dead.Runs.CreateAsync([new NewRun("orphan", "recover", """[{"id":"e","name":"x","data":{},"ts":0}]""", Start, Start, null)], default);
            var lease = Assert.Single(await dead.Queue.ClaimAsync("dead-node", ["recover"], 1, TimeSpan.FromSeconds(30), new Dictionary<string, Baton.Storage.ConcurrencyRule>(), null, default)).Lease;
            await dead.Queue.CheckpointAsync(lease, new StepRecord("done-before-death", StepKind.Run, StepStatus.Completed, "\"kept\"", null, 1, Start, Start, null), default);
        }

        await using var host = await StartAsync(b => b.AddFunction<object>("recover", null, async ctx =>
        {
            var kept = await ctx.Step.Run("done-before-death", () =>
            {
                counter.Hit("rerun");
                return "rerun";
            });
            return kept + "+" + await ctx.Step.Run("rest", () => "rest");
        }), storage, time);

        Assert.Equal(RunStatus.Running, await host.StatusAsync("orphan"));
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), async () => (await host.StatusAsync("orphan")).IsTerminal());

        var run = await host.WaitAsync("orphan");
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal("kept+rest", run.GetOutput<string>());
        Assert.Equal(0, counter["rerun"]);
    }

    [Fact]
    public async Task HistoryRetention_EndedRunsAreDeletedAfterTheWindowAndRunningOnesKept()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(
            b => b
                .AddFunction<object>("quick", null, async ctx => await ctx.Step.Run("s", () => 1))
                .AddFunction<object>("long", null, async ctx => await ctx.Step.Sleep("nap", TimeSpan.FromDays(30))),
            time: time,
            options: o => o.HistoryRetention = TimeSpan.FromHours(1));

        var quick = await host.Client.TriggerAsync("quick");
        Assert.Equal(RunStatus.Completed, (await host.WaitAsync(quick)).Status);
        var sleeping = await host.Client.TriggerAsync("long");
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(sleeping) == RunStatus.Waiting, "the long run sleeps");

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(2), async () => await host.Client.GetRunAsync(quick) is null);

        Assert.Equal(RunStatus.Waiting, await host.StatusAsync(sleeping));
        Assert.Equal(0, host.Storage.Scalar($"SELECT COUNT(*) FROM steps WHERE run_id = '{quick}'"));
    }

    public sealed class OnSqlite : WorkerLifecycleTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : WorkerLifecycleTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

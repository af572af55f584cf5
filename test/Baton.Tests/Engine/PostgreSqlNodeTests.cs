using Baton.Tests.Infrastructure;

namespace Baton.Tests.Engine;

/// <summary>Behaviour specific to several nodes sharing PostgreSQL.</summary>
public sealed class PostgreSqlNodeTests
{
    [Fact]
    public async Task IdleNode_StartsARunCreatedOnAnotherNodeWithoutWaitingForItsPoll()
    {
        using var storage = new PostgresTestStorage();

        // The worker polls only every 10 minutes: within the test's timeout only a notification can wake it.
        await using var worker = await TestHost.StartAsync(
            b => b.AddFunction<object>("notified", null, async ctx => await ctx.Step.Run("s", () => "ran")),
            storage,
            options: o => o.PollInterval = TimeSpan.FromMinutes(10));
        await using var sender = await TestHost.StartAsync(_ => { }, storage, options: o => o.RunWorker = false);

        // Let the worker go idle first.
        await TestHost.EventuallyAsync(() => Task.FromResult(storage.Scalar("SELECT COUNT(*) FROM functions") > 0), "the worker registered");
        var runId = await sender.Client.TriggerAsync("notified");

        var run = await sender.WaitAsync(runId);
        Assert.Equal(RunStatus.Completed, run.Status);
    }

    [Fact]
    public async Task TwoWorkerNodes_OnOneDatabase_EachRunExecutesOnce()
    {
        using var storage = new PostgresTestStorage();
        var executions = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        void Configure(BatonBuilder b) => b.AddFunction<object>("shared", f => f.TriggerOn("job"), async ctx =>
            await ctx.Step.Run("once", async () =>
            {
                executions.AddOrUpdate(ctx.RunId, 1, (_, n) => n + 1);
                await Task.Delay(5);
                return ctx.RunId;
            }));

        await using var first = await TestHost.StartAsync(Configure, storage);
        await using var second = await TestHost.StartAsync(Configure, storage);
        var sent = await first.Client.SendAsync(Enumerable.Range(0, 200).Select(i => new BatonEvent("job", new { i })));

        foreach (var runId in sent.RunIds)
        {
            Assert.Equal(RunStatus.Completed, (await first.WaitAsync(runId)).Status);
        }

        Assert.Equal(200, executions.Count);
        Assert.All(executions.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task TwoNodes_SendingMatchingEventsAtOnce_ResumeEachWaiterExactlyOnce()
    {
        using var storage = new PostgresTestStorage();
        var recorded = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        void Configure(BatonBuilder b) => b.AddFunction<Item>("gate", f => f.TriggerOn("opened"), async ctx =>
        {
            var approval = await ctx.Step.WaitForEvent<Item>("approval", "approved", TimeSpan.FromHours(1), match: "data.i");
            await ctx.Step.Run("record", () => recorded.AddOrUpdate(ctx.RunId, 1, (_, n) => n + 1));
            return approval!.Data.By;
        });

        await using var first = await TestHost.StartAsync(Configure, storage);
        await using var second = await TestHost.StartAsync(Configure, storage);
        var runIds = (await first.Client.SendAsync(Enumerable.Range(0, 200).Select(i => new BatonEvent("opened", new Item(i, ""))))).RunIds;
        await TestHost.EventuallyAsync(
            () => Task.FromResult(storage.Scalar("SELECT COUNT(*) FROM waits") == 200 && storage.Scalar("SELECT COUNT(*) FROM runs WHERE status = 6") == 200),
            "every run waits");

        // Both nodes send an event for every run at the same time, one at a time, so the two race for each wait.
        await Task.WhenAll(
            Task.Run(async () => { foreach (var i in Enumerable.Range(0, 200)) { await first.Client.SendAsync(new BatonEvent("approved", new Item(i, "first"))); } }),
            Task.Run(async () => { foreach (var i in Enumerable.Range(0, 200)) { await second.Client.SendAsync(new BatonEvent("approved", new Item(i, "second"))); } }));

        foreach (var runId in runIds)
        {
            var run = await first.WaitAsync(runId);
            Assert.Equal(RunStatus.Completed, run.Status);
            Assert.Contains(run.Output!.Value.GetString(), new[] { "first", "second" });
            Assert.Equal(run.Output!.Value.GetString(), run.Steps.Single(s => s.Id == "approval").Output!.Value.GetProperty("data").GetProperty("by").GetString());
        }

        Assert.Equal(200, recorded.Count);
        Assert.All(recorded.Values, n => Assert.Equal(1, n));
        Assert.Equal(0, storage.Scalar("SELECT COUNT(*) FROM waits"));
    }

    [Fact]
    public async Task TwoNodes_ConcurrencyLimits_HoldAcrossNodes()
    {
        using var storage = new PostgresTestStorage();
        var timeline = new ConcurrencyTests.Timeline();
        void Configure(BatonBuilder b) => b.AddFunction<ConcurrencyTests.Job>("limited", f => f.TriggerOn("job").LimitConcurrency(4).LimitConcurrency(2, key: "event.data.tenant"), async ctx =>
            await ctx.Step.Run("work", () => timeline.RecordAsync(ctx.Event.Data.Tenant, TimeSpan.FromMilliseconds(25))));

        await using var first = await TestHost.StartAsync(Configure, storage);
        await using var second = await TestHost.StartAsync(Configure, storage);
        var runIds = (await first.Client.SendAsync(Enumerable.Range(0, 60).Select(i => new BatonEvent("job", new ConcurrencyTests.Job($"t{i % 3}", i))))).RunIds;
        foreach (var runId in runIds)
        {
            Assert.Equal(RunStatus.Completed, (await first.WaitAsync(runId)).Status);
        }

        Assert.Equal(60, timeline.Count);
        Assert.InRange(timeline.MaxOverlap(), 1, 4);
        Assert.All(new[] { "t0", "t1", "t2" }, tenant => Assert.InRange(timeline.MaxOverlap(tenant), 1, 2));
    }

    [Fact]
    public async Task TwoNodes_SharingACronSchedule_FireEachSlotOnce()
    {
        using var storage = new PostgresTestStorage();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        static void Configure(BatonBuilder b) => b.AddFunction<CronTick>("every-minute", f => f.TriggerOnCron("* * * * *"), ctx => Task.FromResult<object?>(ctx.Event.Data.Slot));

        await using var first = await TestHost.StartAsync(Configure, storage, time);
        await using var second = await TestHost.StartAsync(Configure, storage, time);
        for (var slot = 1; slot <= 10; slot++)
        {
            var expected = slot;
            await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(58), () => Task.FromResult(storage.Scalar("SELECT COUNT(*) FROM runs") >= expected));
        }

        await TestHost.EventuallyAsync(() => Task.FromResult(storage.Scalar("SELECT COUNT(*) FROM queue") == 0), "every run completed");
        Assert.Equal(10, storage.Scalar("SELECT COUNT(*) FROM runs"));
        Assert.Equal(10, storage.Scalar("SELECT COUNT(DISTINCT input) FROM runs"));
    }

    [Fact]
    public async Task CancelAsync_OnAnotherNode_StopsTheRunningStepAtOnce()
    {
        using var storage = new PostgresTestStorage();
        var bodyStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bodyCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Heartbeats every two minutes: within this test only the cancellation notice can reach the step.
        await using var worker = await TestHost.StartAsync(b => b.AddFunction<object>("long", null, async ctx =>
            await ctx.Step.Run("forever", async step =>
            {
                bodyStarted.TrySetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, step.CancellationToken);
                }
                catch (OperationCanceledException)
                {
                    bodyCancelled.TrySetResult();
                    throw;
                }
            })), storage, options: o =>
            {
                o.LeaseDuration = TimeSpan.FromMinutes(5);
                o.HeartbeatInterval = TimeSpan.FromMinutes(2);
            });
        await using var other = await TestHost.StartAsync(_ => { }, storage, options: o => o.RunWorker = false);

        var runId = await other.Client.TriggerAsync("long");
        await bodyStarted.Task.WaitAsync(TestHost.Timeout);
        Assert.True(await other.Client.CancelAsync(runId, "stop it"));

        await bodyCancelled.Task.WaitAsync(TestHost.Timeout);
        Assert.Equal(RunStatus.Cancelled, (await other.WaitAsync(runId)).Status);
    }

    public sealed record Item(int I, string By);
}

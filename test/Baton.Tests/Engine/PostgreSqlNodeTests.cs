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
}

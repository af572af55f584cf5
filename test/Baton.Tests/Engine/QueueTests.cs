using System.Collections.Concurrent;
using Baton.Tests.Infrastructure;

namespace Baton.Tests.Engine;

public abstract class QueueTests : EngineTests
{
    public sealed record Job(int N);

    private static Action<BatonBuilder> Functions(string node, ConcurrentDictionary<string, string> ranOn) =>
        b => b
            .AddFunction<Job>("render", f =>
            {
                f.TriggerOn("frame");
                f.Queue = "gpu";
            }, ctx =>
            {
                ranOn[ctx.RunId] = node;
                return Task.CompletedTask;
            })
            .AddFunction<Job>("summarize", f => f.TriggerOn("text"), ctx =>
            {
                ranOn[ctx.RunId] = node;
                return Task.CompletedTask;
            });

    [Fact]
    public async Task WorkerPools_EachNodeClaimsOnlyTheQueuesItServes()
    {
        using var storage = NewStorage();
        var ranOn = new ConcurrentDictionary<string, string>();
        await using var gpu = await StartAsync(Functions("gpu-node", ranOn), storage, options: o => o.Queues = ["gpu"]);
        await using var cpu = await StartAsync(Functions("cpu-node", ranOn), storage, options: o => o.Queues = ["default"]);

        var frames = (await cpu.Client.SendAsync(Enumerable.Range(0, 10).Select(i => new BatonEvent("frame", new Job(i))))).RunIds;
        var texts = (await gpu.Client.SendAsync(Enumerable.Range(0, 10).Select(i => new BatonEvent("text", new Job(i))))).RunIds;
        var overridden = await cpu.Client.TriggerAsync("summarize", new Job(99), new TriggerOptions { Queue = "gpu" });
        foreach (var runId in frames.Concat(texts).Append(overridden))
        {
            Assert.Equal(RunStatus.Completed, (await cpu.WaitAsync(runId)).Status);
        }

        Assert.All(frames, r => Assert.Equal("gpu-node", ranOn[r]));
        Assert.All(texts, r => Assert.Equal("cpu-node", ranOn[r]));
        Assert.Equal("gpu-node", ranOn[overridden]);
    }

    [Fact]
    public async Task PausedQueue_HoldsItsRunsUntilResumed()
    {
        var ranOn = new ConcurrentDictionary<string, string>();
        await using var host = await StartAsync(Functions("node", ranOn));

        await host.Client.PauseQueueAsync("gpu");
        var frame = Assert.Single((await host.Client.SendAsync(new BatonEvent("frame", new Job(1)))).RunIds);
        var text = Assert.Single((await host.Client.SendAsync(new BatonEvent("text", new Job(1)))).RunIds);

        // The worker claimed after both were queued: the run in the running queue went, the one in the paused queue did not.
        Assert.Equal(RunStatus.Completed, (await host.WaitAsync(text)).Status);
        Assert.Equal(RunStatus.Queued, await host.StatusAsync(frame));
        Assert.Equal(["gpu"], host.Storage.Rows("SELECT name FROM paused_queues").Select(r => r[0]));

        await host.Client.ResumeQueueAsync("gpu");
        Assert.Equal(RunStatus.Completed, (await host.WaitAsync(frame)).Status);
        await Assert.ThrowsAsync<ArgumentException>(() => host.Client.PauseQueueAsync("not a queue!"));
    }

    [Fact]
    public async Task Queues_InvalidNames_FailStartup()
    {
        using var storage = NewStorage();
        using var host = Build(b => b.AddFunction<Job>("bad", f => f.Queue = "no spaces please", _ => Task.CompletedTask), storage, options: o => o.Queues = ["ok", "bad queue"]);

        var error = await Assert.ThrowsAsync<BatonConfigurationException>(() => host.StartAsync());

        Assert.Contains(error.Problems, p => p == "function 'bad': queue 'no spaces please' is not a valid queue name; use 1-64 letters, digits, '.', '_' or '-'");
        Assert.Contains(error.Problems, p => p == "Queues contains 'bad queue', which is not a valid queue name; use 1-64 letters, digits, '.', '_' or '-'");
    }

    public sealed class OnSqlite : QueueTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : QueueTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

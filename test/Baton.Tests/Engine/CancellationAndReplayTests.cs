using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class CancellationAndReplayTests : EngineTests
{
    public sealed record Item(int N);

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    [Fact]
    public async Task CancelAsync_WaitingRun_EndsItWithTheReasonAndALaterEventChangesNothing()
    {
        await using var host = await StartAsync(b => b.AddFunction<Item>("gate", f => f.TriggerOn("go"), async ctx =>
            (object?)await ctx.Step.WaitForEvent<Item>("approval", "approved", TimeSpan.FromDays(1), match: "data.n")));
        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go", new Item(1)))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.WaitingForEvent, "the run waits");

        Assert.True(await host.Client.CancelAsync(runId, "the document was withdrawn"));
        await host.Client.SendAsync(new BatonEvent("approved", new Item(1)));

        var run = await host.WaitAsync(runId);
        Assert.Equal(RunStatus.Cancelled, run.Status);
        Assert.Equal("Baton.RunCancelled", run.Error!.Type);
        Assert.Equal("Cancelled by a client: the document was withdrawn", run.Error.Message);
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM waits"));
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM queue"));
        Assert.False(await host.Client.CancelAsync(runId), "an ended run cannot be cancelled again");
        await Assert.ThrowsAsync<KeyNotFoundException>(() => host.Client.CancelAsync("no-such-run"));
    }

    [Fact]
    public async Task CancelAsync_RunningStep_CancelsTheTokenTheBodySees()
    {
        var bodyStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bodyCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(b => b.AddFunction<Item>("long", null, async ctx =>
        {
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
            });
        }));
        var runId = await host.Client.TriggerAsync("long", new Item(0));
        await bodyStarted.Task.WaitAsync(TestHost.Timeout);

        Assert.True(await host.Client.CancelAsync(runId));

        await bodyCancelled.Task.WaitAsync(TestHost.Timeout);
        var run = await host.WaitAsync(runId);
        Assert.Equal(RunStatus.Cancelled, run.Status);
        Assert.Empty(run.Steps);
    }

    [Fact]
    public async Task CancelAsync_Parent_CancelsItsUnfinishedChildren()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(b =>
        {
            b.AddFunction<Item>("child", null, async ctx =>
            {
                if (ctx.Event.Data.N > 0)
                {
                    await ctx.Step.Sleep("nap", TimeSpan.FromHours(ctx.Event.Data.N));
                }

                return ctx.Event.Data.N;
            });
            b.AddFunction<Item>("parent", null, async ctx =>
                (object?)await ctx.Step.BatchInvoke<int>("all", "child", [new Item(0), new Item(1), new Item(2)]));
        }, time: time);

        var parentId = await host.Client.TriggerAsync("parent", new Item(0));
        var children = new List<string>();
        await TestHost.EventuallyAsync(async () =>
        {
            children = [.. host.Storage.Rows($"SELECT id FROM runs WHERE parent_run_id = '{parentId}' ORDER BY parent_index").Select(r => r[0])];
            return children.Count == 3
                && await host.StatusAsync(children[0]) == RunStatus.Completed
                && await host.StatusAsync(children[1]) == RunStatus.Waiting
                && await host.StatusAsync(children[2]) == RunStatus.Waiting;
        }, "one child completed and two sleep");

        Assert.True(await host.Client.CancelAsync(parentId, "enough"));

        Assert.Equal(RunStatus.Cancelled, await host.StatusAsync(parentId));
        Assert.Equal(RunStatus.Completed, await host.StatusAsync(children[0]));
        foreach (var child in children.Skip(1))
        {
            var run = (await host.Client.GetRunAsync(child))!;
            Assert.Equal(RunStatus.Cancelled, run.Status);
            Assert.Equal("Baton.ParentCancelled", run.Error!.Type);
            Assert.Equal($"Cancelled with its parent run {parentId}: Cancelled by a client: enough", run.Error.Message);
        }

        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM queue"));
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM waits"));
    }

    [Fact]
    public async Task CancelAsync_InvokedChild_FailsTheParentsStepWithTheCancellation()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(b =>
        {
            b.AddFunction<Item>("child", null, async ctx =>
            {
                await ctx.Step.Sleep("nap", TimeSpan.FromHours(1));
                return 1;
            });
            b.AddFunction<Item>("parent", null, async ctx =>
            {
                try
                {
                    return (object?)await ctx.Step.Invoke<int>("call", "child");
                }
                catch (StepFailedException ex)
                {
                    return ex.Error.Message;
                }
            });
        }, time: time);
        var parentId = await host.Client.TriggerAsync("parent");
        string? childId = null;
        await TestHost.EventuallyAsync(async () =>
        {
            childId = host.Storage.Rows($"SELECT id FROM runs WHERE parent_run_id = '{parentId}'").SingleOrDefault()?[0];
            return childId is not null && await host.StatusAsync(childId) == RunStatus.Waiting;
        }, "the child sleeps");

        await host.Client.CancelAsync(childId!, "not needed");

        Assert.Equal("Cancelled by a client: not needed", (await host.WaitAsync(parentId)).Output!.Value.GetString());
    }

    [Fact]
    public async Task ReplayAsync_FailedRun_StartsANewRunWithTheSameInput()
    {
        var fail = true;
        await using var host = await StartAsync(b => b.AddFunction<Item>("flaky", f => f.Retries = 0, async ctx =>
            (object?)await ctx.Step.Run("work", () => fail ? throw new InvalidOperationException("down") : ctx.Event.Data.N * 2)));
        var failed = await host.WaitAsync(await host.Client.TriggerAsync("flaky", new Item(21)));
        Assert.Equal(RunStatus.Failed, failed.Status);

        fail = false;
        var replayId = await host.Client.ReplayAsync(failed.Id);
        var replay = await host.WaitAsync(replayId);

        Assert.NotEqual(failed.Id, replayId);
        Assert.Equal(RunStatus.Completed, replay.Status);
        Assert.Equal(42, replay.Output!.Value.GetInt32());
        Assert.Equal(failed.Event.GetRawText(), replay.Event.GetRawText());
        await Assert.ThrowsAsync<KeyNotFoundException>(() => host.Client.ReplayAsync("no-such-run"));
    }

    [Fact]
    public async Task RerunFromStepAsync_ReusesTheJournalBeforeTheStepAndRunsTheRestAgain()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<Item>("pipeline", null, async ctx =>
        {
            var a = await ctx.Step.Run("a", () => counter.Hit("a") * 100);
            var b2 = await ctx.Step.Run("b", () => counter.Hit("b"));
            var c = await ctx.Step.Run("c", () => counter.Hit("c"));
            return a + b2 + c;
        }));
        var original = await host.WaitAsync(await host.Client.TriggerAsync("pipeline"));
        Assert.Equal(102, original.Output!.Value.GetInt32());

        var rerun = await host.WaitAsync(await host.Client.RerunFromStepAsync(original.Id, "b"));

        Assert.Equal(RunStatus.Completed, rerun.Status);
        Assert.Equal(104, rerun.Output!.Value.GetInt32());
        Assert.Equal((1, 2, 2), (counter["a"], counter["b"], counter["c"]));
        Assert.Equal(["a", "b", "c"], rerun.Steps.Select(s => s.Id));
        var missing = await Assert.ThrowsAsync<KeyNotFoundException>(() => host.Client.RerunFromStepAsync(original.Id, "zzz"));
        Assert.Equal($"Run '{original.Id}' has no step 'zzz'. Its steps: a, b, c.", missing.Message);
    }

    [Fact]
    public async Task TriggerAndWaitAsync_ReturnsTheOutputOrThrowsTheFailure()
    {
        await using var host = await StartAsync(b => b.AddFunction<Item>("half", f => f.Retries = 0, ctx =>
            Task.FromResult<object?>(ctx.Event.Data.N % 2 == 0 ? ctx.Event.Data.N / 2 : throw new ArgumentException("odd"))));

        Assert.Equal(21, await host.Client.TriggerAndWaitAsync<int>("half", new Item(42), TestHost.Timeout));
        var error = await Assert.ThrowsAsync<RunFailedException>(() => host.Client.TriggerAndWaitAsync<int>("half", new Item(3), TestHost.Timeout));
        Assert.Equal(RunStatus.Failed, error.Run.Status);
        Assert.Equal("odd", error.Run.Error!.Message);
        await Assert.ThrowsAsync<UnknownFunctionException>(() => host.Client.TriggerAndWaitAsync<int>("nope", null, TestHost.Timeout));
    }

    [Fact]
    public async Task BatchTriggerAsync_StartsOneRunPerPayloadAtomically()
    {
        await using var host = await StartAsync(b => b.AddFunction<Item>("double", null, ctx => Task.FromResult<object?>(ctx.Event.Data.N * 2)), options: o => o.MaxBatchSize = 500);

        var runIds = await host.Client.BatchTriggerAsync("double", Enumerable.Range(0, 500).Select(i => (object?)new Item(i)));

        Assert.Equal(500, runIds.Count);
        for (var i = 0; i < runIds.Count; i++)
        {
            Assert.Equal(i * 2, (await host.WaitAsync(runIds[i])).Output!.Value.GetInt32());
        }

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => host.Client.BatchTriggerAsync("double", []));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => host.Client.BatchTriggerAsync("double", Enumerable.Range(0, 501).Select(i => (object?)i)));
        Assert.Equal(500, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    public sealed class OnSqlite : CancellationAndReplayTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : CancellationAndReplayTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class InvokeTests : EngineTests
{
    public sealed record Item(int N);

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    /// <summary>A child that squares its input; odd numbers above 100 fail for good.</summary>
    private static void Square(BatonBuilder b, TimeSpan? sleep = null) =>
        b.AddFunction<Item>("square", null, async ctx =>
        {
            if (sleep is { } nap)
            {
                await ctx.Step.Sleep("nap", nap);
            }

            return await ctx.Step.Run("square", () => ctx.Event.Data.N > 100 && ctx.Event.Data.N % 2 == 1
                ? throw new NonRetriableException($"{ctx.Event.Data.N} is odd")
                : ctx.Event.Data.N * ctx.Event.Data.N);
        });

    [Fact]
    public async Task Invoke_ChildCompletes_ReturnsItsOutputToTheParent()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(b =>
        {
            Square(b, sleep: TimeSpan.FromHours(1));
            b.AddFunction<Item>("parent", null, async ctx => (object?)await ctx.Step.Invoke<int>("call", "square", new Item(ctx.Event.Data.N)));
        }, time: time);

        var parentId = await host.Client.TriggerAsync("parent", new Item(7));
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(parentId) == RunStatus.WaitingForChildren, "the parent waits for its child");
        var childId = host.Storage.Rows($"SELECT id FROM runs WHERE parent_run_id = '{parentId}'").Single()[0];
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(childId) == RunStatus.Waiting, "the child sleeps");

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await host.StatusAsync(parentId)).IsTerminal());
        var parent = await host.WaitAsync(parentId);

        Assert.Equal(RunStatus.Completed, parent.Status);
        Assert.Equal(49, parent.Output!.Value.GetInt32());
        var step = Assert.Single(parent.Steps);
        Assert.Equal((StepKind.Invoke, StepStatus.Completed, 49), (step.Kind, step.Status, step.Output!.Value.GetInt32()));
        var child = await host.WaitAsync(childId);
        Assert.Equal(7, child.Event.GetProperty("data").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task Invoke_ChildFails_ThrowsACatchableStepFailedExceptionIntoTheParent()
    {
        await using var host = await StartAsync(b =>
        {
            Square(b);
            b.AddFunction<Item>("parent", null, async ctx =>
            {
                try
                {
                    return (object?)await ctx.Step.Invoke<int>("call", "square", new Item(101));
                }
                catch (StepFailedException ex)
                {
                    return $"caught {ex.Error.Type}: {ex.Error.Message}";
                }
            });
        });

        var parent = await host.WaitAsync(await host.Client.TriggerAsync("parent", new Item(0)));

        Assert.Equal(RunStatus.Completed, parent.Status);
        Assert.Equal("caught Baton.StepFailedException: Step 'square' failed: Baton.NonRetriableException: 101 is odd", parent.Output!.Value.GetString());
        Assert.Equal(StepStatus.Failed, Assert.Single(parent.Steps).Status);
    }

    [Fact]
    public async Task Invoke_Timeout_FailsTheStepWhileTheChildGoesOn()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(b =>
        {
            Square(b, sleep: TimeSpan.FromHours(2));
            b.AddFunction<Item>("parent", null, async ctx =>
            {
                try
                {
                    return (object?)await ctx.Step.Invoke<int>("call", "square", new Item(3), timeout: TimeSpan.FromHours(1));
                }
                catch (StepFailedException ex)
                {
                    return ex.Error.Type;
                }
            });
        }, time: time);

        var parentId = await host.Client.TriggerAsync("parent", new Item(0));
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(parentId) == RunStatus.WaitingForChildren, "the parent waits");

        // The child must be asleep before the clock moves, or its two hours would count from after the jump.
        var childId = host.Storage.Rows($"SELECT id FROM runs WHERE parent_run_id = '{parentId}'").Single()[0];
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(childId) == RunStatus.Waiting, "the child sleeps");
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await host.StatusAsync(parentId)).IsTerminal());

        var parent = await host.WaitAsync(parentId);
        Assert.Equal("System.TimeoutException", parent.Output!.Value.GetString());
        Assert.False((await host.StatusAsync(childId)).IsTerminal(), "the child goes on after the parent's timeout");

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await host.StatusAsync(childId)).IsTerminal());
        Assert.Equal(9, (await host.WaitAsync(childId)).Output!.Value.GetInt32());
        Assert.Equal("System.TimeoutException", (await host.Client.GetRunAsync(parentId))!.Output!.Value.GetString());
    }

    [Fact]
    public async Task Invoke_UnknownFunction_FailsTheRunWithTheRegisteredIds()
    {
        await using var host = await StartAsync(b => b.AddFunction<Item>("parent", null, async ctx => (object?)await ctx.Step.Invoke<int>("call", "nope")));

        var parent = await host.WaitAsync(await host.Client.TriggerAsync("parent", new Item(0)));

        Assert.Equal(RunStatus.Failed, parent.Status);
        Assert.Equal(1, parent.Attempt);
        Assert.Equal("No function has the id 'nope'. Registered functions: parent.", parent.Error!.Message);
    }

    [Fact]
    public async Task Invoke_ChildCompletesWhileNoParentWorkerRuns_ResumesTheParentAfterRestart()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        Action<BatonBuilder> both = b =>
        {
            Square(b, sleep: TimeSpan.FromHours(1));
            b.AddFunction<Item>("parent", null, async ctx => (object?)await ctx.Step.Invoke<int>("call", "square", new Item(5)));
        };
        string parentId, childId;
        await using (var first = await StartAsync(both, storage, time))
        {
            parentId = await first.Client.TriggerAsync("parent", new Item(0));
            await TestHost.EventuallyAsync(async () => await first.StatusAsync(parentId) == RunStatus.WaitingForChildren, "the parent waits");
            childId = first.Storage.Rows($"SELECT id FROM runs WHERE parent_run_id = '{parentId}'").Single()[0];
            await TestHost.EventuallyAsync(async () => await first.StatusAsync(childId) == RunStatus.Waiting, "the child sleeps");
        }

        // Another node, which serves only the child's function, runs the child to its end while none serves the parent.
        await using (var children = await StartAsync(b => Square(b, sleep: TimeSpan.FromHours(1)), storage, time))
        {
            await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await children.StatusAsync(childId)).IsTerminal());
            Assert.Equal(25, (await children.WaitAsync(childId)).Output!.Value.GetInt32());
            Assert.Equal(RunStatus.Queued, await children.StatusAsync(parentId));
        }

        await using var restarted = await StartAsync(both, storage, time);
        Assert.Equal(25, (await restarted.WaitAsync(parentId)).Output!.Value.GetInt32());
    }

    [Fact]
    public async Task BatchInvoke_ManyChildren_ReturnsEachOutcomeInInputOrder()
    {
        var count = this is OnSqlite ? 1000 : 300;
        await using var host = await StartAsync(b =>
        {
            Square(b);
            b.AddFunction<Item>("fan-out", null, async ctx =>
            {
                var results = await ctx.Step.BatchInvoke<int>("squares", "square", Enumerable.Range(0, ctx.Event.Data.N).Select(i => (object?)new Item(i)));
                return new
                {
                    ok = results.Count(r => r.Succeeded),
                    failed = results.Count(r => !r.Succeeded),
                    sum = results.Where(r => r.Succeeded).Sum(r => (long)r.Output),
                    inOrder = results.Select(r => r.Index).SequenceEqual(Enumerable.Range(0, results.Count)),
                    firstError = results.First(r => !r.Succeeded).Error!.Message,
                };
            });
        });

        var parent = await host.WaitAsync(await host.Client.TriggerAsync("fan-out", new Item(count)));

        var odd = Enumerable.Range(0, count).Count(i => i > 100 && i % 2 == 1);
        var output = parent.Output!.Value;
        Assert.Equal(RunStatus.Completed, parent.Status);
        Assert.Equal(count - odd, output.GetProperty("ok").GetInt32());
        Assert.Equal(odd, output.GetProperty("failed").GetInt32());
        Assert.Equal(Enumerable.Range(0, count).Where(i => i <= 100 || i % 2 == 0).Sum(i => (long)i * i), output.GetProperty("sum").GetInt64());
        Assert.True(output.GetProperty("inOrder").GetBoolean());
        Assert.Equal("Step 'square' failed: Baton.NonRetriableException: 101 is odd", output.GetProperty("firstError").GetString());
        Assert.Equal(count, host.Storage.Scalar($"SELECT COUNT(*) FROM runs WHERE parent_run_id = '{parent.Id}'"));
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM waits"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(11)]
    public async Task BatchInvoke_NoItemsOrTooMany_FailsTheRunWithAClearError(int items)
    {
        await using var host = await StartAsync(
            b =>
            {
                Square(b);
                b.AddFunction<Item>("fan-out", null, async ctx =>
                    (object?)await ctx.Step.BatchInvoke<int>("squares", "square", Enumerable.Range(0, ctx.Event.Data.N).Select(i => (object?)new Item(i))));
            },
            options: o => o.MaxBatchSize = 10);

        var parent = await host.WaitAsync(await host.Client.TriggerAsync("fan-out", new Item(items)));

        Assert.Equal(RunStatus.Failed, parent.Status);
        Assert.Equal($"Step 'squares': a batch needs 1 to 10 items (BatonOptions.MaxBatchSize); it has {items}.", parent.Error!.Message);
        Assert.Equal(1, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    public sealed class OnSqlite : InvokeTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : InvokeTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

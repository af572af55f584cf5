using System.Text.Json;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Tests.Engine;

public abstract class EventsAndClientTests : EngineTests
{
    public sealed record Doc(string DocId);

    public sealed class Greeter
    {
        public string Greet(string name) => $"hello {name}";
    }

    public sealed class GreetFunction(Greeter greeter) : IBatonFunction<Doc, string>
    {
        public Task<string> RunAsync(FunctionContext<Doc> context) =>
            context.Step.Run("greet", () => greeter.Greet(context.Event.Data.DocId));
    }

    [Fact]
    public async Task AddFunction_ClassFunction_IsConstructedFromDependencyInjection()
    {
        await using var host = await StartAsync(
            b => b.AddFunction<GreetFunction>("greet", f => f.TriggerOn("doc/uploaded")),
            services: s => s.AddSingleton<Greeter>());

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d-9")))).RunIds);
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal("hello d-9", run.GetOutput<string>());
    }

    [Fact]
    public async Task SendAsync_RepeatedEventId_IsAcceptedOnceAndStartsOneRun()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<Doc>("once", f => f.TriggerOn("doc/uploaded"), ctx =>
        {
            counter.Hit(ctx.Event.Id);
            return Task.CompletedTask;
        }));

        var first = await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d")) { Id = "evt-1" });
        var second = await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d")) { Id = "evt-1" });
        await host.WaitAsync(Assert.Single(first.RunIds));

        Assert.Equal(["evt-1"], first.Ids);
        Assert.Equal(["evt-1"], second.Ids);
        Assert.Empty(second.RunIds);
        Assert.Equal(1, host.Storage.Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'once'"));
        Assert.Equal(1, counter["evt-1"]);
    }

    [Fact]
    public async Task SendAsync_EventForSeveralFunctions_StartsOneRunEach()
    {
        await using var host = await StartAsync(b => b
            .AddFunction<Doc>("first", f => f.TriggerOn("doc/uploaded"), ctx => Task.CompletedTask)
            .AddFunction<Doc>("second", f => f.TriggerOn("doc/uploaded").TriggerOn("doc/replaced"), ctx => Task.CompletedTask));

        var sent = await host.Client.SendAsync([new BatonEvent("doc/uploaded", new Doc("a")), new BatonEvent("doc/replaced", new Doc("b"))]);

        Assert.Equal(3, sent.RunIds.Count);
        foreach (var runId in sent.RunIds)
        {
            Assert.Equal(RunStatus.Completed, (await host.WaitAsync(runId)).Status);
        }
    }

    [Fact]
    public async Task TriggerAsync_ById_RunsFunctionWithoutEventTrigger()
    {
        await using var host = await StartAsync(b => b.AddFunction<Doc>("by-id", null, async ctx =>
            await ctx.Step.Run("echo", () => ctx.Event.Data.DocId + ":" + ctx.Event.Name)));

        var runId = await host.Client.TriggerAsync("by-id", new Doc("x1"));
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal("x1:" + LifecycleEvents.FunctionInvoked, run.GetOutput<string>());
    }

    [Fact]
    public async Task StepSendEvent_FansOutToOtherFunctionsOnceEvenWhenTheStepIsReplayed()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b
            .AddFunction<object>("parent", f =>
            {
                f.TriggerOn("batch/started");
                f.Backoff = Backoff.Fixed(TimeSpan.FromMilliseconds(1));
            }, async ctx =>
            {
                var ids = await ctx.Step.SendEvent("fan-out", Enumerable.Range(0, 5).Select(i => new BatonEvent("item/ready", new { index = i })));
                if (ctx.Attempt == 1)
                {
                    // Force a replay of the send step.
                    throw new InvalidOperationException("retry the function");
                }

                return ids;
            })
            .AddFunction<JsonElement>("child", f => f.TriggerOn("item/ready"), ctx =>
            {
                counter.Hit("child:" + ctx.Event.Data.GetProperty("index").GetInt32());
                return Task.CompletedTask;
            }));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("batch/started"))).RunIds);
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(5, run.Output!.Value.GetArrayLength());
        await TestHost.EventuallyAsync(() => Task.FromResult(Enumerable.Range(0, 5).All(i => counter["child:" + i] == 1)), "every child ran");
        Assert.Equal(5, host.Storage.Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'child'"));
        Assert.Equal(StepKind.SendEvent, run.Steps.Single().Kind);
    }

    [Fact]
    public async Task GetRunAsync_UnknownRun_ReturnsNull()
    {
        await using var host = await StartAsync(b => b.AddFunction<object>("noop", null, _ => Task.CompletedTask));
        Assert.Null(await host.Client.GetRunAsync("no-such-run"));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => host.Client.WaitForRunAsync("no-such-run", TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task WaitForRunAsync_RunNotDoneInTime_ThrowsTimeoutWithItsStatus()
    {
        var release = new TaskCompletionSource();
        await using var host = await StartAsync(b => b.AddFunction<object>("slow", null, async ctx =>
            await ctx.Step.Run("wait", async () => await release.Task)));

        var runId = await host.Client.TriggerAsync("slow");
        var error = await Assert.ThrowsAsync<TimeoutException>(() => host.Client.WaitForRunAsync(runId, TimeSpan.FromMilliseconds(300)));
        release.SetResult();

        Assert.Contains(runId, error.Message, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Completed, (await host.WaitAsync(runId)).Status);
    }

    [Fact]
    public async Task Context_RawEventAndTypedEvent_DescribeTheSameEvent()
    {
        await using var host = await StartAsync(b => b.AddFunction<Doc>("inspect", f => f.TriggerOn("doc/uploaded"), ctx =>
            Task.FromResult<object?>(new
            {
                typed = ctx.Event.Data.DocId,
                raw = ctx.RawEvent.GetProperty("data").GetProperty("docId").GetString(),
                id = ctx.Event.Id,
                rawId = ctx.RawEvent.GetProperty("id").GetString(),
                ctx.RunId,
                ctx.FunctionId,
            })));

        var sent = await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("doc-5")) { Id = "e-5" });
        var run = await host.WaitAsync(Assert.Single(sent.RunIds));
        var output = run.Output!.Value;

        Assert.Equal("doc-5", output.GetProperty("typed").GetString());
        Assert.Equal("doc-5", output.GetProperty("raw").GetString());
        Assert.Equal("e-5", output.GetProperty("id").GetString());
        Assert.Equal("e-5", output.GetProperty("rawId").GetString());
        Assert.Equal(run.Id, output.GetProperty("runId").GetString());
        Assert.Equal("inspect", output.GetProperty("functionId").GetString());
    }

    [Fact]
    public async Task SendAsync_FromANodeWithoutTheFunction_StartsRunsForFunctionsOtherNodesRegistered()
    {
        using var storage = NewStorage();
        await using var worker = await StartAsync(b => b.AddFunction<Doc>("remote", f => f.TriggerOn("doc/uploaded"), async ctx =>
            await ctx.Step.Run("s", () => "handled " + ctx.Event.Data.DocId)), storage);
        await using var sender = await StartAsync(_ => { }, storage, options: o => o.RunWorker = false);

        var sent = await sender.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("far")));
        var triggered = await sender.Client.TriggerAsync("remote", new Doc("by-id"));
        await Assert.ThrowsAsync<UnknownFunctionException>(() => sender.Client.TriggerAsync("nowhere"));

        Assert.Equal("handled far", (await sender.WaitAsync(Assert.Single(sent.RunIds))).GetOutput<string>());
        Assert.Equal("handled by-id", (await sender.WaitAsync(triggered)).GetOutput<string>());
    }

    public sealed class OnSqlite : EventsAndClientTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : EventsAndClientTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

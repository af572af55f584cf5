using System.Text.Json;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Tests.Engine;

public abstract class FailureHandlingTests : EngineTests
{
    public sealed record Order(string OrderId);

    [Fact]
    public async Task OnFailure_AfterFinalFailure_RunsDurablyWithTheFailedRunsDetails()
    {
        var handled = new TaskCompletionSource<(string FunctionId, string RunId, string Message, string? OrderId)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(b => b.AddFunction<Order>("charge", f =>
        {
            f.TriggerOn("order/placed");
            f.Retries = 0;
            f.OnFailure = async ctx =>
            {
                var orderId = await ctx.Step.Run("notify", () => ctx.GetFailedEventData<Order>()!.OrderId);
                handled.SetResult((ctx.Failure.FunctionId, ctx.Failure.RunId, ctx.Failure.Error!.Message, orderId));
            };
        }, async ctx =>
        {
            await ctx.Step.Run("charge-card", () => { throw new InvalidOperationException("card declined"); });
        }));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("order/placed", new Order("o-7")))).RunIds);
        var failed = await host.WaitAsync(runId);
        var (functionId, failedRunId, message, orderId) = await handled.Task.WaitAsync(TestHost.Timeout);

        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal("charge", functionId);
        Assert.Equal(runId, failedRunId);
        Assert.Contains("card declined", message, StringComparison.Ordinal);
        Assert.Equal("o-7", orderId);
    }

    [Fact]
    public async Task OnFailure_OnlyHandlesItsOwnFunction()
    {
        var handledFor = new List<string>();
        await using var host = await StartAsync(b => b
            .AddFunction<object>("a", f =>
            {
                f.TriggerOn("go");
                f.Retries = 0;
                f.OnFailure = ctx =>
                {
                    lock (handledFor)
                    {
                        handledFor.Add(ctx.Failure.FunctionId);
                    }

                    return Task.CompletedTask;
                };
            }, ctx => Task.FromException(new InvalidOperationException("a fails")))
            .AddFunction<object>("b", f =>
            {
                f.TriggerOn("go");
                f.Retries = 0;
            }, ctx => Task.FromException(new InvalidOperationException("b fails"))));

        var sent = await host.Client.SendAsync(new BatonEvent("go"));
        foreach (var runId in sent.RunIds)
        {
            await host.WaitAsync(runId);
        }

        await TestHost.EventuallyAsync(() => Task.FromResult(handledFor.Count > 0), "the failure handler ran");

        // Handler runs are created in the same transaction that records the failure, so all of them exist by now.
        var handlerRuns = host.Storage.Rows("SELECT function_id FROM runs WHERE function_id LIKE '%/on-failure'");
        Assert.Equal(["a/on-failure"], handlerRuns.Select(r => r[0]));
        Assert.Equal(["a"], handledFor);
    }

    [Fact]
    public async Task LifecycleEvents_FunctionFinishedAndFailed_TriggerOtherFunctions()
    {
        var seen = new List<FunctionFinishedData>();
        await using var host = await StartAsync(b => b
            .AddFunction<object>("ok", f => f.TriggerOn("go"), async ctx => await ctx.Step.Run("s", () => 42))
            .AddFunction<object>("bad", f =>
            {
                f.TriggerOn("go");
                f.Retries = 0;
            }, ctx => Task.FromException(new NonRetriableException("nope")))
            .AddFunction<FunctionFinishedData>("audit", f => f.TriggerOn(LifecycleEvents.FunctionFinished), ctx =>
            {
                lock (seen)
                {
                    seen.Add(ctx.Event.Data);
                }

                return Task.CompletedTask;
            }));

        await host.Client.SendAsync(new BatonEvent("go"));
        await TestHost.EventuallyAsync(() => Task.FromResult(seen.Count(s => s.FunctionId is "ok" or "bad") == 2), "both runs were audited");

        var ok = seen.Single(s => s.FunctionId == "ok");
        Assert.Equal("completed", ok.Status);
        Assert.Equal(42, ok.Output!.Value.GetInt32());
        Assert.Equal("go", ok.Event!.Value.GetProperty("name").GetString());
        var bad = seen.Single(s => s.FunctionId == "bad");
        Assert.Equal("failed", bad.Status);
        Assert.Equal("nope", bad.Error!.Message);
    }

    public sealed class ClassWithFailureHandler(Counter counter) : IBatonFunction<Order>, IBatonFailureHandler
    {
        public Task RunAsync(FunctionContext<Order> context) => throw new NonRetriableException("class fails");

        public Task OnFailureAsync(FailureContext context)
        {
            counter.Hit("handled:" + context.GetFailedEventData<Order>()!.OrderId);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task OnFailure_ImplementedByTheFunctionClass_IsCalled()
    {
        var counter = new Counter();
        await using var host = await StartAsync(
            b => b.AddFunction<ClassWithFailureHandler>("class-fails", f => f.TriggerOn("order/placed")),
            services: s => s.AddSingleton(counter));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("order/placed", JsonSerializer.SerializeToElement(new { orderId = "o-1" })))).RunIds);
        Assert.Equal(RunStatus.Failed, (await host.WaitAsync(runId)).Status);
        await TestHost.EventuallyAsync(() => Task.FromResult(counter["handled:o-1"] == 1), "the class's failure handler ran");
    }

    public sealed class OnSqlite : FailureHandlingTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : FailureHandlingTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class RetryTests : EngineTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Step_FailsTwiceThenSucceeds_RetriesOnlyThatStep()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("flaky", f =>
        {
            f.TriggerOn("go");
            f.Backoff = Backoff.Fixed(TimeSpan.FromMilliseconds(5));
        }, async ctx =>
        {
            await ctx.Step.Run("before", () => counter.Hit("before"));
            var value = await ctx.Step.Run("call-llm", () => counter.Hit("llm") < 3 ? throw new HttpRequestException("503") : "ok");
            return value;
        }));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(1, counter["before"]);
        Assert.Equal(3, counter["llm"]);
        var step = run.Steps.Single(s => s.Id == "call-llm");
        Assert.Equal(3, step.Attempts);
        Assert.Equal(StepStatus.Completed, step.Status);
    }

    [Fact]
    public async Task Step_BackoffSchedule_IsPersistedAndFollowedOnTheClock()
    {
        var time = new FakeTimeProvider(Start);
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("scheduled", f =>
        {
            f.TriggerOn("go");
            f.Retries = 2;
            f.Backoff = Backoff.Schedule(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(10));
        }, async ctx => await ctx.Step.Run("call", () => counter.Hit("call") < 3 ? throw new TimeoutException("slow") : "done")), time: time);

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        await TestHost.EventuallyAsync(async () => (await host.Client.GetRunAsync(runId)) is { Status: RunStatus.Queued, Steps: [{ Status: StepStatus.Retrying }] }, "the first attempt failed and the run waits");
        var afterFirst = (await host.Client.GetRunAsync(runId))!;
        Assert.Equal(Start + TimeSpan.FromMinutes(1), afterFirst.Steps[0].WakeAt);
        Assert.Equal(RunStatus.Queued, afterFirst.Status);
        Assert.Equal("slow", afterFirst.Steps[0].Error!.Message);

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(1), async () => (await host.Client.GetRunAsync(runId))!.Steps[0].Attempts == 2);
        var afterSecond = (await host.Client.GetRunAsync(runId))!;
        Assert.Equal(StepStatus.Retrying, afterSecond.Steps[0].Status);
        // The second retry waits the schedule's second delay, counted from the second failure (a second or so of
        // fake time after the first retry was due).
        Assert.InRange(afterSecond.Steps[0].WakeAt!.Value, Start + TimeSpan.FromMinutes(11), time.GetUtcNow() + TimeSpan.FromMinutes(10));

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(10), async () => (await host.StatusAsync(runId)).IsTerminal());
        var run = await host.WaitAsync(runId);
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(3, counter["call"]);
    }

    [Fact]
    public async Task Step_RetriesExhausted_ThrowsStepFailedExceptionThatUserCodeCanCatch()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("fallback", f =>
        {
            f.TriggerOn("go");
            f.Backoff = Backoff.Fixed(TimeSpan.Zero);
        }, async ctx =>
        {
            try
            {
                await ctx.Step.Run("primary", () => { counter.Hit("primary"); throw new InvalidOperationException("down"); }, new StepOptions { Retries = 1 });
                return "primary";
            }
            catch (StepFailedException ex)
            {
                return await ctx.Step.Run("secondary", () => $"secondary after {ex.StepId}: {ex.Error.Message}");
            }
        }));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal("secondary after primary: down", run.Output!.Value.GetString());
        Assert.Equal(2, counter["primary"]);
        var primary = run.Steps.Single(s => s.Id == "primary");
        Assert.Equal(StepStatus.Failed, primary.Status);
        Assert.Equal(2, primary.Attempts);
        Assert.Equal(typeof(InvalidOperationException).FullName, primary.Error!.Type);
    }

    [Fact]
    public async Task Step_FailureUncaught_FailsTheRunWithoutFunctionRetries()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("doomed", f =>
        {
            f.TriggerOn("go");
            f.Retries = 2;
            f.Backoff = Backoff.Fixed(TimeSpan.Zero);
        }, async ctx =>
        {
            counter.Hit("function");
            await ctx.Step.Run("broken", () => { counter.Hit("broken"); throw new InvalidOperationException("always"); });
        }));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal(typeof(StepFailedException).FullName, run.Error!.Type);
        Assert.Contains("Step 'broken' failed", run.Error.Message, StringComparison.Ordinal);
        Assert.Equal(3, counter["broken"]);
        Assert.Equal(1, counter["function"]);
    }

    [Fact]
    public async Task Step_NonRetriableException_FailsAtOnce()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("strict", f =>
        {
            f.TriggerOn("go");
            f.Retries = 5;
        }, async ctx =>
        {
            await ctx.Step.Run("validate", () => { counter.Hit("validate"); throw new NonRetriableException("bad document"); });
        }));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal(1, counter["validate"]);
        Assert.Equal(1, run.Steps.Single().Attempts);
        Assert.Equal("bad document", run.Steps.Single().Error!.Message);
    }

    [Fact]
    public async Task Step_RetryAfterException_RetriesAtTheGivenTime()
    {
        var time = new FakeTimeProvider(Start);
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("rate-limited", f =>
        {
            f.TriggerOn("go");
            f.Backoff = Backoff.Fixed(TimeSpan.FromHours(5));
        }, async ctx => await ctx.Step.Run("call", () => counter.Hit("call") == 1
            ? throw new RetryAfterException("429 Too Many Requests", TimeSpan.FromSeconds(42))
            : "ok")), time: time);

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        await TestHost.EventuallyAsync(async () => (await host.Client.GetRunAsync(runId))!.Steps is [{ Status: StepStatus.Retrying }], "the first attempt failed");
        Assert.Equal(Start + TimeSpan.FromSeconds(42), (await host.Client.GetRunAsync(runId))!.Steps[0].WakeAt);

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(42), async () => (await host.StatusAsync(runId)).IsTerminal());
        var run = await host.WaitAsync(runId);
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(2, counter["call"]);
        Assert.True(time.GetUtcNow() < Start + TimeSpan.FromHours(1), "the retry followed Retry-After, not the 5 h backoff");
    }

    [Fact]
    public async Task Function_ErrorOutsideSteps_RetriesTheFunctionAndReplaysCompletedSteps()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("outer", f =>
        {
            f.TriggerOn("go");
            f.Backoff = Backoff.Fixed(TimeSpan.FromMilliseconds(10));
        }, async ctx =>
        {
            await ctx.Step.Run("once", () => counter.Hit("once"));
            if (ctx.Attempt == 1)
            {
                throw new InvalidOperationException("glitch between steps");
            }

            return ctx.Attempt;
        }));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(2, run.Output!.Value.GetInt32());
        Assert.Equal(2, run.Attempt);
        Assert.Equal(1, counter["once"]);
    }

    [Fact]
    public async Task Function_ErrorOutsideStepsEveryTime_FailsAfterItsRetries()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("hopeless", f =>
        {
            f.TriggerOn("go");
            f.Retries = 2;
            f.Backoff = Backoff.Fixed(TimeSpan.FromMilliseconds(1));
        }, _ =>
        {
            counter.Hit("attempt");
            return Task.FromException(new InvalidOperationException("never works"));
        }));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal(3, counter["attempt"]);
        Assert.Equal("never works", run.Error!.Message);
    }

    public sealed class OnSqlite : RetryTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : RetryTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

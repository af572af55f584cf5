using Baton.Storage;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

/// <summary>Steps that take long: a timeout per attempt, and heartbeats that keep the run's lease while a body runs.</summary>
public abstract class LongStepTests : EngineTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task StepTimeout_CancelsTheBodysToken_AndTheAttemptIsRetried()
    {
        var counter = new Counter();
        var tokenFired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(b => b.AddFunction<object>("slow-llm", f => f.Backoff = Backoff.Fixed(TimeSpan.FromMilliseconds(5)), async ctx =>
            await ctx.Step.Run("complete", async s =>
            {
                if (counter.Hit("complete") == 1)
                {
                    // The first attempt hangs (a stuck connection) until its token fires.
                    try
                    {
                        await Task.Delay(Timeout.InfiniteTimeSpan, s.CancellationToken);
                    }
                    catch (OperationCanceledException)
                    {
                        tokenFired.TrySetResult();
                        throw;
                    }
                }

                return "answer";
            }, new StepOptions { Timeout = TimeSpan.FromMilliseconds(100) })));

        var run = await host.WaitAsync(await host.Client.TriggerAsync("slow-llm"));

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal("answer", run.GetOutput<string>());
        await tokenFired.Task.WaitAsync(TestHost.Timeout);
        Assert.Equal(2, run.Steps.Single().Attempts);
    }

    [Fact]
    public async Task StepTimeout_OfABodyThatIgnoresItsToken_StillFailsTheAttempt_WithTheStepAndTimeoutInTheError()
    {
        var never = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(b => b.AddFunction<object>("stuck", f => f.Retries = 0, async ctx =>
            await ctx.Step.Run("wait-forever", () => never.Task, new StepOptions { Timeout = TimeSpan.FromMilliseconds(100) })));

        var run = await host.WaitAsync(await host.Client.TriggerAsync("stuck"));

        Assert.Equal(RunStatus.Failed, run.Status);
        var step = run.Steps.Single();
        Assert.Equal(StepStatus.Failed, step.Status);
        Assert.Equal(typeof(StepTimeoutException).FullName, step.Error!.Type);
        Assert.Contains("Step 'wait-forever' timed out after 00:00:00.1", step.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Heartbeats_KeepTheLeaseOfATwoMinuteStep_SoNoOtherWorkerTakesTheRun()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var counter = new Counter();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(
            b => b.AddFunction<object>("think-long", null, async ctx => await ctx.Step.Run("think", async () =>
            {
                counter.Hit("think");
                entered.TrySetResult();
                return await release.Task;
            })),
            storage,
            time,
            o =>
            {
                o.LeaseDuration = TimeSpan.FromSeconds(30);
                o.HeartbeatInterval = TimeSpan.FromSeconds(10);
            });
        var runId = await host.Client.TriggerAsync("think-long");
        await entered.Task.WaitAsync(TestHost.Timeout);

        await using var rival = storage.Create(time);
        await rival.InitializeAsync(default);
        long Expiry() => storage.Scalar($"SELECT available_at FROM queue WHERE run_id = '{runId}'");
        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromMinutes(2); elapsed += TimeSpan.FromSeconds(10))
        {
            time.Advance(TimeSpan.FromSeconds(10));

            // Renewed: the lease runs a full LeaseDuration from now again (without a renewal it would end in 20 s).
            await TestHost.EventuallyAsync(() => Task.FromResult(Expiry() >= (time.GetUtcNow() + TimeSpan.FromSeconds(30)).ToUnixTimeMilliseconds()), "the heartbeat renewed the lease");
            Assert.Empty(await rival.Queue.ClaimAsync("rival", ["think-long"], 10, TimeSpan.FromSeconds(30), new Dictionary<string, ConcurrencyRule>(), null, default));
        }

        release.SetResult("thought");
        var run = await host.WaitAsync(runId);
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal("thought", run.GetOutput<string>());
        Assert.Equal(1, counter["think"]);
    }

    public sealed class OnSqlite : LongStepTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : LongStepTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

using Baton.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class StepMemoizationTests : EngineTests
{
    public sealed record Doc(string DocId, string FileUrl);

    [Fact]
    public async Task Run_ThreeSteps_EachBodyRunsOnceAndResultsAreCommitted()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<Doc>("pipeline", f => f.TriggerOn("doc/uploaded"), async ctx =>
        {
            var text = await ctx.Step.Run("extract", () =>
            {
                counter.Hit("extract");
                return "text of " + ctx.Event.Data.FileUrl;
            });
            var length = await ctx.Step.Run("analyze", async () =>
            {
                counter.Hit("analyze");
                await Task.Yield();
                return text.Length;
            });
            await ctx.Step.Run("save", () => counter.Hit("save"));
            return new { text, length };
        }));

        var sent = await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1", "file.txt")));
        var run = await host.WaitAsync(Assert.Single(sent.RunIds));

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal("text of file.txt", run.Output!.Value.GetProperty("text").GetString());
        Assert.Equal(["extract", "analyze", "save"], run.Steps.Select(s => s.Id));
        Assert.All(run.Steps, s => Assert.Equal(StepStatus.Completed, s.Status));
        Assert.Equal("text of file.txt", run.Steps[0].Output!.Value.GetString());
        Assert.Equal(16, run.Steps[1].Output!.Value.GetInt32());
        Assert.Equal(1, counter["extract"]);
        Assert.Equal(1, counter["analyze"]);
        Assert.Equal(1, counter["save"]);
        Assert.Equal(1, run.Attempt);
        Assert.Equal("doc/uploaded", run.Event.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Run_ResumedAfterSuspension_ReplaysCompletedStepsWithoutRunningThem()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var counter = new Counter();
        var observed = new List<string>();
        await using var host = await StartAsync(b => b.AddFunction<object>("sleeper", f => f.TriggerOn("go"), async ctx =>
        {
            var first = await ctx.Step.Run("first", () =>
            {
                counter.Hit("first");
                return Guid.NewGuid().ToString();
            });
            await ctx.Step.Sleep("nap", TimeSpan.FromHours(1));
            lock (observed)
            {
                observed.Add(first);
            }

            await ctx.Step.Run("second", () => counter.Hit("second"));
            return first;
        }), time: time);

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps");
        var sleeping = await host.Client.GetRunAsync(runId);
        Assert.Equal(StepStatus.Waiting, sleeping!.Steps[1].Status);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromHours(1), sleeping.Steps[1].WakeAt);

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await host.StatusAsync(runId)).IsTerminal());
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(1, counter["first"]);
        Assert.Equal(1, counter["second"]);
        var memoized = Assert.Single(observed);
        Assert.Equal(memoized, run.Output!.Value.GetString());
        Assert.Equal(StepStatus.Completed, run.Steps[1].Status);
    }

    [Fact]
    public async Task Run_RepeatedStepIds_GetOccurrenceSuffixesStableAcrossReplay()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("repeat", f => f.TriggerOn("go"), async ctx =>
        {
            var results = new List<int>();
            for (var i = 0; i < 3; i++)
            {
                var n = i;
                results.Add(await ctx.Step.Run("fetch", () =>
                {
                    counter.Hit("fetch" + n);
                    return n * 10;
                }));
            }

            await ctx.Step.Sleep("wait", TimeSpan.FromMinutes(5));
            results.Add(await ctx.Step.Run("fetch", () => 30));
            return results;
        }), time: time);

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps");
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(5), async () => (await host.StatusAsync(runId)).IsTerminal());
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(["fetch", "fetch:1", "fetch:2", "wait", "fetch:3"], run.Steps.Select(s => s.Id));
        Assert.Equal([0, 10, 20, 30], run.Output!.Value.EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(1, counter["fetch0"]);
        Assert.Equal(1, counter["fetch1"]);
        Assert.Equal(1, counter["fetch2"]);
    }

    [Fact]
    public async Task Run_ParallelSteps_RunConcurrentlyAndAreEachCheckpointed()
    {
        var bothStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0;
        await using var host = await StartAsync(b => b.AddFunction<object>("fan", f => f.TriggerOn("go"), async ctx =>
        {
            async Task<string> Branch(string name)
            {
                // Each branch waits for the other to start: this completes only if they run at the same time.
                if (Interlocked.Increment(ref started) == 2)
                {
                    bothStarted.SetResult();
                }

                await bothStarted.Task.WaitAsync(TestHost.Timeout);
                return name.ToUpperInvariant();
            }

            var results = await Task.WhenAll(
                ctx.Step.Run("left", () => Branch("left")),
                ctx.Step.Run("right", () => Branch("right")));
            return string.Join("+", results);
        }));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal("LEFT+RIGHT", run.Output!.Value.GetString());
        Assert.Equal(2, run.Steps.Count);
        Assert.Contains(run.Steps, s => s.Id == "left" && s.Output!.Value.GetString() == "LEFT");
        Assert.Contains(run.Steps, s => s.Id == "right" && s.Output!.Value.GetString() == "RIGHT");
    }

    [Fact]
    public async Task Run_StepBody_GetsStableIdempotencyKeyAndAttempt()
    {
        var seen = new List<(string Key, int Attempt)>();
        await using var host = await StartAsync(b => b.AddFunction<object>("keys", f =>
        {
            f.TriggerOn("go");
            f.Backoff = Backoff.Fixed(TimeSpan.FromMilliseconds(1));
        }, async ctx =>
        {
            await ctx.Step.Run("charge", s =>
            {
                lock (seen)
                {
                    seen.Add((s.IdempotencyKey, s.Attempt));
                }

                return s.Attempt < 2 ? throw new InvalidOperationException("flaky") : Task.FromResult(s.Key);
            });
            return null;
        }));

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("go"))).RunIds);
        await host.WaitAsync(runId);

        Assert.Equal([($"{runId}:charge", 1), ($"{runId}:charge", 2)], seen);
    }

    [Fact]
    public async Task Run_StepInsideAStepBody_IsRefusedWithAClearError()
    {
        await using var host = await StartAsync(b => b.AddFunction<object>("nested", f => f.Retries = 0, async ctx =>
            await ctx.Step.Run("outer", async () => await ctx.Step.Run("inner", () => 1))));

        var run = await host.WaitAsync(await host.Client.TriggerAsync("nested"));

        Assert.Equal(RunStatus.Failed, run.Status);
        var outer = Assert.Single(run.Steps);
        Assert.Equal("outer", outer.Id);
        Assert.Contains("Steps cannot be nested", outer.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_VoidSteps_RecordNullAndAreSkippedOnReplay()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("void", null, async ctx =>
        {
            await ctx.Step.Run("sync-void", () => { counter.Hit("sync"); });
            await ctx.Step.Run("async-void", async () =>
            {
                await Task.Yield();
                counter.Hit("async");
            });
            await ctx.Step.Sleep("nap", TimeSpan.FromHours(2));
        }), time: time);

        var runId = await host.Client.TriggerAsync("void");
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps");
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(2), async () => (await host.StatusAsync(runId)).IsTerminal());
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, run.Steps[0].Output!.Value.ValueKind);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, run.Steps[1].Output!.Value.ValueKind);
        Assert.Equal(1, counter["sync"]);
        Assert.Equal(1, counter["async"]);
    }

    [Fact]
    public async Task Logger_DuringReplay_StaysQuiet()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var logs = new CapturingLoggerProvider();
        var replaying = new List<bool>();
        await using var host = await StartAsync(
            b => b.AddFunction<object>("chatty", null, async ctx =>
            {
                lock (replaying)
                {
                    replaying.Add(ctx.IsReplaying);
                }

                ctx.Logger.LogWarning("starting run {RunId}", ctx.RunId);
                await ctx.Step.Run("first", () => 1);
                await ctx.Step.Sleep("nap", TimeSpan.FromHours(1));
                ctx.Logger.LogWarning("woke up");
            }),
            time: time,
            services: s => s.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(logs));

        var runId = await host.Client.TriggerAsync("chatty");
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps");
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await host.StatusAsync(runId)).IsTerminal());
        await host.WaitAsync(runId);

        Assert.Equal([false, true], replaying);
        Assert.Single(logs.Messages, m => m.StartsWith("starting run", StringComparison.Ordinal));
        Assert.Single(logs.Messages, m => m == "woke up");
    }

    public sealed class OnSqlite : StepMemoizationTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : StepMemoizationTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

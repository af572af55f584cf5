using Baton.Tests.Infrastructure;

namespace Baton.Tests.Engine;

public abstract class BadInputTests : EngineTests
{
    public sealed record Doc(string DocId);

    public sealed class NotAFunction;

    [Fact]
    public async Task TriggerAsync_UnknownFunction_ThrowsWithTheRegisteredIdsAndWritesNothing()
    {
        await using var host = await StartAsync(b => b.AddFunction<object>("known", null, _ => Task.CompletedTask));

        var error = await Assert.ThrowsAsync<UnknownFunctionException>(() => host.Client.TriggerAsync("unknown"));

        Assert.Equal("No function has the id 'unknown'. Registered functions: known.", error.Message);
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    [Fact]
    public async Task Start_InvalidFunctions_ReportsEveryProblemTogether()
    {
        using var storage = NewStorage();
        using var host = Build(b => b
                .AddFunction<object>("dup", f => f.TriggerOn("a"), _ => Task.CompletedTask)
                .AddFunction<object>("dup", f => f.TriggerOn("b"), _ => Task.CompletedTask)
                .AddFunction<object>("bad id!", null, _ => Task.CompletedTask)
                .AddFunction<object>("negative", f => f.Retries = -1, _ => Task.CompletedTask)
                .AddFunction<object>("bad-backoff", f => f.Backoff = Backoff.Exponential(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1)), _ => Task.CompletedTask)
                .AddFunction<object>("reserved", f => f.TriggerOn("baton/anything"), _ => Task.CompletedTask)
                .AddFunction<NotAFunction>("not-a-function"),
            storage);

        var error = await Assert.ThrowsAsync<BatonConfigurationException>(() => host.StartAsync());

        Assert.Equal(6, error.Problems.Count);
        Assert.Contains(error.Problems, p => p.Contains("'dup' is registered 2 times", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("'bad id!'", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("retries is -1", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("below its initial delay", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("reserved prefix", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("implements neither", StringComparison.Ordinal));
        Assert.False(storage.Exists, "nothing was written before validation failed");
    }

    [Fact]
    public async Task Start_InvalidOptionsAndFunctions_ReportsEveryProblemInOneError()
    {
        using var storage = NewStorage();
        using var host = Build(
            b => b.AddFunction<object>("bad id!", null, _ => Task.CompletedTask),
            storage,
            null,
            o =>
            {
                o.MaxConcurrentRuns = 0;
                o.LeaseDuration = TimeSpan.FromMilliseconds(10);
                o.MaxEventBytes = 10;
            });

        var error = await Assert.ThrowsAsync<BatonConfigurationException>(() => host.StartAsync());

        Assert.Contains(error.Problems, p => p.Contains("MaxConcurrentRuns is 0", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("LeaseDuration", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("MaxEventBytes is 10", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("'bad id!'", StringComparison.Ordinal));
        Assert.False(storage.Exists, "nothing was written before validation failed");
    }

    [Fact]
    public void UseSqlite_InvalidOptions_ThrowsWithEveryProblem()
    {
        using var storage = NewStorage();
        var error = Assert.Throws<BatonConfigurationException>(() => Build(
            b => b.UseSqlite(o =>
            {
                o.Path = " ";
                o.MaxBatchSize = 0;
            }),
            storage));

        Assert.Equal(2, error.Problems.Count);
    }

    [Fact]
    public async Task SendAsync_OversizedPayload_IsRefusedAndNothingIsWritten()
    {
        await using var host = await StartAsync(
            b => b.AddFunction<object>("sink", f => f.TriggerOn("big"), _ => Task.CompletedTask),
            options: o => o.MaxEventBytes = 4096);

        var error = await Assert.ThrowsAsync<PayloadTooLargeException>(() => host.Client.SendAsync(
            [new BatonEvent("big", new { ok = true }), new BatonEvent("big", new { text = new string('x', 5000) })]));

        Assert.Equal(4096, error.LimitBytes);
        Assert.True(error.SizeBytes > 5000);
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM events"));
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    [Fact]
    public async Task TriggerAsync_OversizedPayload_IsRefused()
    {
        await using var host = await StartAsync(
            b => b.AddFunction<object>("sink", null, _ => Task.CompletedTask),
            options: o => o.MaxEventBytes = 2048);

        await Assert.ThrowsAsync<PayloadTooLargeException>(() => host.Client.TriggerAsync("sink", new string('y', 4000)));
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" padded ")]
    [InlineData("baton/function.finished")]
    public async Task SendAsync_InvalidName_IsRefused(string name)
    {
        await using var host = await StartAsync(b => b.AddFunction<object>("sink", null, _ => Task.CompletedTask));
        await Assert.ThrowsAsync<InvalidEventException>(() => host.Client.SendAsync(new BatonEvent(name)));
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM events"));
    }

    [Fact]
    public async Task SendAsync_UnserializableData_IsRefusedWithTheType()
    {
        await using var host = await StartAsync(b => b.AddFunction<object>("sink", null, _ => Task.CompletedTask));
        var error = await Assert.ThrowsAsync<InvalidEventException>(() => host.Client.SendAsync(new BatonEvent("x", new { pointer = IntPtr.Zero, self = typeof(string) })));
        Assert.Contains("cannot be serialized", error.Message, StringComparison.Ordinal);
    }

    public sealed class Unserializable
    {
        public Type Kind { get; } = typeof(string);
    }

    [Fact]
    public async Task Step_UnserializableResult_FailsTheStepAtOnceWithAClearError()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<object>("leaky", f => f.Retries = 3, async ctx =>
        {
            await ctx.Step.Run("returns-type", () =>
            {
                counter.Hit("body");
                return new Unserializable();
            });
        }));

        var run = await host.WaitAsync(await host.Client.TriggerAsync("leaky"));

        Assert.Equal(RunStatus.Failed, run.Status);
        var step = Assert.Single(run.Steps);
        Assert.Equal(StepStatus.Failed, step.Status);
        Assert.Null(step.Output);
        Assert.Contains("cannot be serialized to JSON", step.Error!.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(Unserializable), step.Error.Message, StringComparison.Ordinal);
        Assert.Equal(1, counter["body"]);
    }

    [Fact]
    public async Task Run_PayloadNotMatchingEventType_FailsWithoutRetries()
    {
        var counter = new Counter();
        await using var host = await StartAsync(b => b.AddFunction<Doc>("typed", f => f.TriggerOn("doc"), ctx =>
        {
            counter.Hit("body");
            return Task.CompletedTask;
        }));

        var sent = await host.Client.SendAsync(new BatonEvent("doc", new { docId = new[] { 1, 2 } }));
        var run = await host.WaitAsync(Assert.Single(sent.RunIds));

        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Contains("does not fit Doc", run.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(0, counter["body"]);
    }

    [Fact]
    public async Task Replay_StepKindChanged_FailsWithNonDeterminismError()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var replayed = false;
        await using var host = await StartAsync(b => b.AddFunction<object>("shifty", null, async ctx =>
        {
            if (!replayed)
            {
                await ctx.Step.Run("a", () => 1);
                replayed = true;
                await ctx.Step.Sleep("b", TimeSpan.FromHours(1));
            }
            else
            {
                await ctx.Step.Sleep("a", TimeSpan.FromHours(1));
            }
        }), time: time);

        var runId = await host.Client.TriggerAsync("shifty");
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps");
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await host.StatusAsync(runId)).IsTerminal());
        var run = await host.WaitAsync(runId);

        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal(typeof(NonDeterminismException).FullName, run.Error!.Type);
        Assert.Contains("Step 'a' is a Sleep step now", run.Error.Message, StringComparison.Ordinal);
    }

    public sealed class OnSqlite : BadInputTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : BadInputTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

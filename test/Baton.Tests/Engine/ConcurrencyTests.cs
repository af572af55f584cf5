using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class ConcurrencyTests : EngineTests
{
    public sealed record Job(string Tenant, int N);

    /// <summary>Records when each step body started and ended (the machine's monotonic clock), to find the most that overlapped.</summary>
    public sealed class Timeline
    {
        private readonly ConcurrentBag<(string Key, long Start, long End)> _spans = [];

        public async Task RecordAsync(string key, TimeSpan busy)
        {
            var start = Stopwatch.GetTimestamp();
            await Task.Delay(busy);
            _spans.Add((key, start, Stopwatch.GetTimestamp()));
        }

        public int Count => _spans.Count;

        /// <summary>The most spans (of <paramref name="key"/>, or of all) open at one instant.</summary>
        public int MaxOverlap(string? key = null) =>
            Spans.MaxOverlap(_spans.Where(s => key is null || s.Key == key).Select(s => (s.Start, s.End)));

        /// <summary>The start of the <paramref name="index"/>-th span of a key, in order.</summary>
        public long StartOf(string key, int index) => _spans.Where(s => s.Key == key).Select(s => s.Start).Order().ElementAt(index);

        /// <summary>How many spans of <paramref name="key"/> started before <paramref name="moment"/>.</summary>
        public int StartedBefore(string key, long moment) => _spans.Count(s => s.Key == key && s.Start < moment);
    }

    private static Action<BatonBuilder> Limited(Timeline timeline, Action<FunctionOptions> limits, TimeSpan? busy = null) =>
        b => b.AddFunction<Job>("limited", f =>
        {
            f.TriggerOn("job");
            limits(f);
        }, async ctx => await ctx.Step.Run("work", () => timeline.RecordAsync(ctx.Event.Data.Tenant, busy ?? TimeSpan.FromMilliseconds(20))));

    [Fact]
    public async Task FunctionLimit_ManyRunsAtOnce_NeverMoreExecuteThanTheLimit()
    {
        var timeline = new Timeline();
        await using var host = await StartAsync(Limited(timeline, f => f.LimitConcurrency(3)));

        var runIds = (await host.Client.SendAsync(Enumerable.Range(0, 40).Select(i => new BatonEvent("job", new Job("t", i))))).RunIds;
        foreach (var runId in runIds)
        {
            Assert.Equal(RunStatus.Completed, (await host.WaitAsync(runId)).Status);
        }

        Assert.Equal(40, timeline.Count);
        Assert.InRange(timeline.MaxOverlap(), 1, 3);
    }

    [Fact]
    public async Task KeyLimit_BusyTenant_IsCappedAndOtherTenantsTakeTurns()
    {
        var timeline = new Timeline();
        await using var host = await StartAsync(Limited(timeline, f => f.LimitConcurrency(4).LimitConcurrency(2, key: "event.data.tenant"), TimeSpan.FromMilliseconds(30)));

        // The busy tenant's 30 runs are queued first; two small tenants come after.
        var busy = await host.Client.SendAsync(Enumerable.Range(0, 30).Select(i => new BatonEvent("job", new Job("busy", i))));
        var small = await host.Client.SendAsync(Enumerable.Range(0, 6).Select(i => new BatonEvent("job", new Job(i % 2 == 0 ? "a" : "b", i))));
        foreach (var runId in busy.RunIds.Concat(small.RunIds))
        {
            Assert.Equal(RunStatus.Completed, (await host.WaitAsync(runId)).Status);
        }

        Assert.InRange(timeline.MaxOverlap(), 1, 4);
        Assert.All(new[] { "busy", "a", "b" }, tenant => Assert.InRange(timeline.MaxOverlap(tenant), 1, 2));

        // The small tenants did not wait for the busy one's backlog: each started well before the busy tenant's last runs.
        Assert.True(timeline.StartOf("a", 2) < timeline.StartOf("busy", 20), "tenant a finished its turns before the busy tenant's 21st run");
        Assert.True(timeline.StartOf("b", 2) < timeline.StartOf("busy", 20), "tenant b finished its turns before the busy tenant's 21st run");
    }

    [Fact]
    public async Task KeyLimit_BacklogLongerThanAnyWindow_DoesNotStarveANewKey()
    {
        // 2,500 runs of one tenant are due before a single run of another: more than a claim reads of runs without a
        // key (2,000). The new tenant must still get its turn among the first claims, not after the backlog.
        using var storage = NewStorage();
        var timeline = new Timeline();
        var function = Limited(timeline, f => f.LimitConcurrency(2, key: "event.data.tenant"), TimeSpan.FromMilliseconds(2));
        string small;
        await using (var sender = await StartAsync(function, storage, options: o => o.RunWorker = false))
        {
            foreach (var chunk in Enumerable.Range(0, 2500).Chunk(500))
            {
                await sender.Client.SendAsync(chunk.Select(i => new BatonEvent("job", new Job("busy", i))));
            }

            small = Assert.Single((await sender.Client.SendAsync(new BatonEvent("job", new Job("small", 0)))).RunIds);
        }

        await using var worker = await StartAsync(function, storage);
        Assert.Equal(RunStatus.Completed, (await worker.WaitAsync(small)).Status);

        // Spans are recorded when a body ends: let some of the busy tenant's runs end before reading them (the small
        // run may well have been the very first to finish). At most 2 busy runs were in flight when it started.
        await TestHost.EventuallyAsync(() => Task.FromResult(timeline.StartedBefore("busy", long.MaxValue) >= 20), "the busy tenant's runs go on");
        var smallStart = timeline.StartOf("small", 0);
        var busyBefore = timeline.StartedBefore("busy", smallStart);
        Assert.True(busyBefore < 50, $"the new tenant started after {busyBefore} runs of the busy one");
        Assert.InRange(timeline.MaxOverlap("busy"), 1, 2);
    }

    [Fact]
    public async Task FunctionLimit_SleepingAndWaitingRuns_HoldNoSlot()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture));
        await using var host = await StartAsync(b => b.AddFunction<Job>("one-at-a-time", f => f.TriggerOn("job").LimitConcurrency(1), async ctx =>
        {
            await ctx.Step.Sleep("nap", TimeSpan.FromHours(1));
            await ctx.Step.WaitForEvent<Job>("go", "go", TimeSpan.FromHours(1), match: "data.n");
        }), time: time);

        var runIds = (await host.Client.SendAsync(Enumerable.Range(0, 5).Select(i => new BatonEvent("job", new Job("t", i))))).RunIds;
        await TestHost.EventuallyAsync(async () => (await Task.WhenAll(runIds.Select(host.StatusAsync))).All(s => s == RunStatus.Waiting), "all five sleep on one slot");

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await Task.WhenAll(runIds.Select(host.StatusAsync))).All(s => s == RunStatus.WaitingForEvent));
        await host.Client.SendAsync(Enumerable.Range(0, 5).Select(i => new BatonEvent("go", new Job("t", i))));
        foreach (var runId in runIds)
        {
            Assert.Equal(RunStatus.Completed, (await host.WaitAsync(runId)).Status);
        }
    }

    [Fact]
    public async Task ConcurrencyLimits_Invalid_FailStartupWithEveryProblem()
    {
        using var storage = NewStorage();
        using var host = Build(b => b
                .AddFunction<Job>("zero", f => f.LimitConcurrency(0), _ => Task.CompletedTask)
                .AddFunction<Job>("three", f => f.LimitConcurrency(1).LimitConcurrency(1, "event.data.a").LimitConcurrency(1, "event.data.b"), _ => Task.CompletedTask)
                .AddFunction<Job>("bad-key", f => f.LimitConcurrency(1, "event.data.("), _ => Task.CompletedTask),
            storage);

        var error = await Assert.ThrowsAsync<BatonConfigurationException>(() => host.StartAsync());

        Assert.Contains(error.Problems, p => p.Contains("function 'zero': a concurrency limit is 0", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("function 'three': give at most two concurrency limits", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("function 'bad-key': concurrency key: the expression 'event.data.(' is invalid at column", StringComparison.Ordinal));
    }

    public sealed class OnSqlite : ConcurrencyTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : ConcurrencyTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

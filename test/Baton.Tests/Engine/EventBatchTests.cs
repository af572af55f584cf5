using System.Collections.Concurrent;
using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class EventBatchTests : EngineTests
{
    public sealed record Upload(string User, int N);

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    /// <summary>Records each run's batch as "user:n,n,n", checking that <c>Event</c> is the batch's first event.</summary>
    private static Action<BatonBuilder> Summarizer(ConcurrentQueue<string> batches, int maxSize = 3) =>
        b => b.AddFunction<Upload>("summarize", f =>
        {
            f.TriggerOn("file/uploaded");
            f.BatchEvents(maxSize, TimeSpan.FromSeconds(60), key: "event.data.user");
        }, ctx =>
        {
            Assert.Equal(ctx.Events[0].Id, ctx.Event.Id);
            Assert.All(ctx.Events, e => Assert.Equal(ctx.Event.Data.User, e.Data.User));
            batches.Enqueue($"{ctx.Event.Data.User}:{string.Join(",", ctx.Events.Select(e => e.Data.N))}");
            return Task.CompletedTask;
        });

    [Fact]
    public async Task BatchEvents_FullBatchesRunAtOnce_TheRestWhenTheTimeoutPasses()
    {
        var time = new FakeTimeProvider(Start);
        var batches = new ConcurrentQueue<string>();
        await using var host = await StartAsync(Summarizer(batches), time: time);

        // One call with seven events of one user and one of another: batches of a key fill in order, and each full one
        // closes so the next event opens a new one.
        await host.Client.SendAsync([
            .. Enumerable.Range(1, 7).Select(n => new BatonEvent("file/uploaded", new Upload("a", n))),
            new BatonEvent("file/uploaded", new Upload("b", 1)),
        ]);

        await TestHost.AdvanceUntilAsync(time, TimeSpan.Zero, () => Task.FromResult(batches.Count == 2));
        Assert.Equal(["a:1,2,3", "a:4,5,6"], batches.Order(StringComparer.Ordinal));
        Assert.Equal(4, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));
        Assert.Equal(4, host.Storage.Scalar("SELECT COUNT(*) FROM skipped_runs WHERE reason = 'batched'"));

        // The partial batches are due 60 s after their first event.
        Assert.Equal([Start.AddSeconds(60)], host.Storage.Rows("SELECT DISTINCT available_at FROM queue WHERE owner IS NULL").Select(r => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(r[0], CultureInfo.InvariantCulture))));
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(60), () => Task.FromResult(batches.Count == 4));
        Assert.Equal(["a:1,2,3", "a:4,5,6", "a:7", "b:1"], batches.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task BatchEvents_EventsOfSeparateCalls_JoinTheOpenBatchUntilItIsClaimed()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var batches = new ConcurrentQueue<string>();
        await using (var sender = await StartAsync(Summarizer(batches, maxSize: 100), storage, time, o => o.RunWorker = false))
        {
            await sender.Client.SendAsync(new BatonEvent("file/uploaded", new Upload("a", 1)) { Id = "u1" });
            time.Advance(TimeSpan.FromSeconds(20));
            await sender.Client.SendAsync(new BatonEvent("file/uploaded", new Upload("a", 2)));

            // A repeated event id is accepted once, so it is not batched twice.
            await sender.Client.SendAsync(new BatonEvent("file/uploaded", new Upload("a", 1)) { Id = "u1" });
            Assert.Equal(1, storage.Scalar("SELECT COUNT(*) FROM runs"));

            // Joining does not push the batch back: it is due 60 s after its first event.
            Assert.Equal(Start.AddSeconds(60), DateTimeOffset.FromUnixTimeMilliseconds(storage.Scalar("SELECT available_at FROM queue")));
        }

        await using var worker = await StartAsync(Summarizer(batches, maxSize: 100), storage, time);
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(40), () => Task.FromResult(batches.Count == 1));
        Assert.Equal(["a:1,2"], batches);

        // The claim closed that batch: a later event opens a new one.
        await worker.Client.SendAsync(new BatonEvent("file/uploaded", new Upload("a", 3)));
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(60), () => Task.FromResult(batches.Count == 2));
        Assert.Equal(["a:1,2", "a:3"], batches);
    }

    [Fact]
    public async Task BatchEvents_EventsAcceptedByANodeWithoutTheFunction_JoinTheSameBatches()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var batches = new ConcurrentQueue<string>();
        await using var worker = await StartAsync(Summarizer(batches), storage, time);
        await using var sender = await StartAsync(_ => { }, storage, time, o => o.RunWorker = false);

        // The sender knows the function only from the catalog: it must batch by the same rules.
        await sender.Client.SendAsync([.. Enumerable.Range(1, 2).Select(n => new BatonEvent("file/uploaded", new Upload("a", n)))]);
        await worker.Client.SendAsync(new BatonEvent("file/uploaded", new Upload("a", 3)));

        await TestHost.AdvanceUntilAsync(time, TimeSpan.Zero, () => Task.FromResult(batches.Count == 1));
        Assert.Equal(["a:1,2,3"], batches);
        Assert.Equal(1, storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    [Fact]
    public async Task BatchEvents_DirectTrigger_RunsAloneAtOnce()
    {
        var time = new FakeTimeProvider(Start);
        var batches = new ConcurrentQueue<string>();
        await using var host = await StartAsync(Summarizer(batches), time: time);

        var runId = await host.Client.TriggerAsync("summarize", new Upload("a", 9));

        var run = await host.Client.WaitForRunAsync(runId, TestHost.Timeout);
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(["a:9"], batches);
    }

    [Fact]
    public async Task BatchEvents_InvalidOrCombinedWithSingleEventRules_IsRefusedAtStart()
    {
        using var storage = NewStorage();
        using var host = Build(b => b
                .AddFunction<object>("too-big", f => f.TriggerOn("a").BatchEvents(5000, TimeSpan.FromSeconds(5)), _ => Task.CompletedTask)
                .AddFunction<object>("clash", f =>
                {
                    f.TriggerOn("a").BatchEvents(10, TimeSpan.FromSeconds(5), key: "event.data.(");
                    f.Debounce = new Debounce(TimeSpan.FromSeconds(1));
                    f.Priority = "10";
                }, _ => Task.CompletedTask),
            storage);

        var error = await Assert.ThrowsAsync<BatonConfigurationException>(() => host.StartAsync());

        Assert.Contains(error.Problems, p => p.Contains("'too-big'", StringComparison.Ordinal) && p.Contains("size of 1 to 1000", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("'clash'", StringComparison.Ordinal) && p.Contains("cannot be combined with Debounce, Priority", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("'clash'", StringComparison.Ordinal) && p.Contains("batch key", StringComparison.Ordinal));
        Assert.False(storage.Exists, "nothing was written before validation failed");
    }

    public sealed class OnSqlite : EventBatchTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : EventBatchTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

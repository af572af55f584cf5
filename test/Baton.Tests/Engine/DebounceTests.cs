using System.Collections.Concurrent;
using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class DebounceTests : EngineTests
{
    public sealed record Edit(string Doc, int Version);

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    private static Action<BatonBuilder> Indexer(ConcurrentQueue<string> seen, TimeSpan? timeout = null) =>
        b => b.AddFunction<Edit>("reindex", f =>
        {
            f.TriggerOn("doc/edited");
            f.Debounce = new Debounce(TimeSpan.FromSeconds(10), Key: "event.data.doc", Timeout: timeout);
        }, ctx =>
        {
            seen.Enqueue($"{ctx.Event.Data.Doc}@{ctx.Event.Data.Version}");
            return Task.CompletedTask;
        });

    [Fact]
    public async Task Debounce_BurstOfEvents_RunsOnceWithTheLatestAfterAQuietPeriod()
    {
        var time = new FakeTimeProvider(Start);
        var seen = new ConcurrentQueue<string>();
        await using var host = await StartAsync(Indexer(seen), time: time);

        for (var version = 1; version <= 3; version++)
        {
            await host.Client.SendAsync(new BatonEvent("doc/edited", new Edit("a", version)));
            time.Advance(TimeSpan.FromSeconds(4));
        }

        await host.Client.SendAsync(new BatonEvent("doc/edited", new Edit("b", 1)));
        Assert.Equal(2, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));
        Assert.Empty(seen);

        // The last edit of "a" came at 8 s: its run is due at 18 s, and "b"'s at 22 s.
        var aDue = DateTimeOffset.FromUnixTimeMilliseconds(host.Storage.Scalar("SELECT MIN(available_at) FROM queue"));
        Assert.Equal(Start.AddSeconds(18), aDue);
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(6), () => Task.FromResult(seen.Count == 2));
        Assert.Equal(["a@3", "b@1"], seen);
        Assert.Equal(2, host.Storage.Scalar("SELECT COUNT(*) FROM skipped_runs WHERE reason = 'debounced'"));

        // Once a run has started, a new edit opens a new window.
        await host.Client.SendAsync(new BatonEvent("doc/edited", new Edit("a", 4)));
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(10), () => Task.FromResult(seen.Count == 3));
        Assert.Equal(["a@3", "b@1", "a@4"], seen);
    }

    [Fact]
    public async Task Debounce_Timeout_CapsHowLongABurstCanPushTheRunBack()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var seen = new ConcurrentQueue<string>();
        await using var sender = await StartAsync(Indexer(seen, timeout: TimeSpan.FromSeconds(15)), storage, time, o => o.RunWorker = false);

        await sender.Client.SendAsync(new BatonEvent("doc/edited", new Edit("a", 1)));
        time.Advance(TimeSpan.FromSeconds(8));
        await sender.Client.SendAsync(new BatonEvent("doc/edited", new Edit("a", 2)));

        // Without the cap it would be due at 18 s; the burst started at 0 s, so 15 s is the latest.
        Assert.Equal(Start.AddSeconds(15), DateTimeOffset.FromUnixTimeMilliseconds(storage.Scalar("SELECT available_at FROM queue")));
        Assert.Equal(1, storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    public sealed class OnSqlite : DebounceTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : DebounceTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

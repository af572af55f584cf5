using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class SingletonTests : EngineTests
{
    public sealed record Sync(string UserId);

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    private static Action<BatonBuilder> Syncer(SingletonMode mode) =>
        b => b.AddFunction<Sync>("sync", f =>
        {
            f.TriggerOn("user/changed");
            f.Singleton = new Singleton("event.data.userId", mode);
        }, async ctx => await ctx.Step.Sleep("slow-work", TimeSpan.FromHours(1)));

    [Fact]
    public async Task Singleton_Skip_DropsNewRunsWhileOneIsUnfinished()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(Syncer(SingletonMode.Skip), time: time);

        var first = Assert.Single((await host.Client.SendAsync(new BatonEvent("user/changed", new Sync("u1")))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(first) == RunStatus.Waiting, "the first run sleeps");
        var repeats = await host.Client.SendAsync([new BatonEvent("user/changed", new Sync("u1")), new BatonEvent("user/changed", new Sync("u1")), new BatonEvent("user/changed", new Sync("u2"))]);
        var viaTrigger = await host.Client.TriggerAsync("sync", new Sync("u1"));

        Assert.Single(repeats.RunIds);
        Assert.Equal(first, viaTrigger);
        Assert.Equal(2, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await host.StatusAsync(first)).IsTerminal());
        Assert.Single((await host.Client.SendAsync(new BatonEvent("user/changed", new Sync("u1")))).RunIds);
    }

    [Fact]
    public async Task Singleton_Cancel_ReplacesTheUnfinishedRun()
    {
        await using var host = await StartAsync(Syncer(SingletonMode.Cancel));

        var first = Assert.Single((await host.Client.SendAsync(new BatonEvent("user/changed", new Sync("u1")))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(first) == RunStatus.Waiting, "the first run sleeps");
        var second = Assert.Single((await host.Client.SendAsync(new BatonEvent("user/changed", new Sync("u1")))).RunIds);

        var replaced = (await host.Client.GetRunAsync(first))!;
        Assert.Equal(RunStatus.Cancelled, replaced.Status);
        Assert.Equal($"Replaced by run {second} (singleton, mode cancel).", replaced.Error!.Message);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(second) == RunStatus.Waiting, "the new run sleeps");
        Assert.Equal(1, host.Storage.Scalar("SELECT COUNT(*) FROM queue"));
    }

    [Fact]
    public async Task Singleton_ManyConcurrentSends_LeaveOneUnfinishedRunPerKey()
    {
        using var storage = NewStorage();
        await using var first = await StartAsync(Syncer(SingletonMode.Skip), storage);
        await using var second = await StartAsync(Syncer(SingletonMode.Skip), storage, options: o => o.RunWorker = false);

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => (i % 2 == 0 ? first : second).Client.SendAsync(new BatonEvent("user/changed", new Sync($"u{i % 4}")))));

        Assert.Equal(4, storage.Scalar("SELECT COUNT(*) FROM runs"));
        Assert.Equal(4, storage.Scalar("SELECT COUNT(DISTINCT singleton_key) FROM queue"));
        Assert.Equal(40, storage.Scalar("SELECT COUNT(*) FROM events"));
    }

    public sealed class OnSqlite : SingletonTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : SingletonTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class RateLimitAndThrottleTests : EngineTests
{
    public sealed record Call(string User);

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    private static IEnumerable<BatonEvent> Calls(string user, int count) => Enumerable.Range(0, count).Select(_ => new BatonEvent("llm/call", new Call(user)));

    [Fact]
    public async Task RateLimit_ExcessEventsStartNoRunAndAreRecordedAsSkipped()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(b => b.AddFunction<Call>("limited", f =>
        {
            f.TriggerOn("llm/call");
            f.RateLimit = new RateLimit(2, TimeSpan.FromMinutes(1), Key: "event.data.user");
        }, _ => Task.CompletedTask), time: time);

        var u1 = await host.Client.SendAsync(Calls("u1", 5));
        var u2 = await host.Client.SendAsync(Calls("u2", 1));
        time.Advance(TimeSpan.FromSeconds(30));
        var afterHalfAPeriod = await host.Client.SendAsync(Calls("u1", 2));

        Assert.Equal(2, u1.RunIds.Count);
        Assert.Single(u2.RunIds);
        Assert.Single(afterHalfAPeriod.RunIds);
        Assert.Equal(4, host.Storage.Scalar("SELECT COUNT(*) FROM skipped_runs WHERE reason = 'rate-limited' AND function_id = 'limited'"));
        Assert.Equal(8, host.Storage.Scalar("SELECT COUNT(*) FROM events"));
    }

    [Fact]
    public async Task Throttle_ExcessRunsAreQueuedAtTheAllowedRate()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        Action<BatonBuilder> function = b => b.AddFunction<Call>("throttled", f =>
        {
            f.TriggerOn("llm/call");
            f.Throttle = new Throttle(2, TimeSpan.FromMinutes(1));
        }, _ => Task.CompletedTask);

        await using (var sender = await StartAsync(function, storage, time, o => o.RunWorker = false))
        {
            var sent = await sender.Client.SendAsync(Calls("u1", 6));
            Assert.Equal(6, sent.RunIds.Count);
        }

        var due = storage.Rows("SELECT available_at FROM queue ORDER BY available_at").Select(r => (long.Parse(r[0], CultureInfo.InvariantCulture) - Start.ToUnixTimeMilliseconds()) / 1000).ToList();
        Assert.Equal([0L, 0, 30, 60, 90, 120], due);

        await using var worker = await StartAsync(function, storage, time);
        await TestHost.EventuallyAsync(() => Task.FromResult(storage.Scalar("SELECT COUNT(*) FROM runs WHERE status = 3") == 2), "the first two ran");
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(120), () => Task.FromResult(storage.Scalar("SELECT COUNT(*) FROM runs WHERE status = 3") == 6));
        Assert.Equal(0, storage.Scalar("SELECT COUNT(*) FROM skipped_runs"));
    }

    [Fact]
    public async Task SkippedRuns_RecordWhySingletonAndIdempotencyCreatedNone()
    {
        await using var host = await StartAsync(b => b
            .AddFunction<Call>("one-per-user", f =>
            {
                f.TriggerOn("llm/call");
                f.Singleton = new Singleton("event.data.user");
            }, async ctx => await ctx.Step.Sleep("hold", TimeSpan.FromHours(1)))
            .AddFunction<Call>("dedupe", f =>
            {
                f.TriggerOn("llm/call");
                f.Idempotency = "event.data.user";
            }, _ => Task.CompletedTask));

        await host.Client.SendAsync(Calls("u1", 3));

        Assert.Equal(2, host.Storage.Scalar("SELECT COUNT(*) FROM skipped_runs WHERE function_id = 'one-per-user' AND reason = 'singleton'"));
        Assert.Equal(2, host.Storage.Scalar("SELECT COUNT(*) FROM skipped_runs WHERE function_id = 'dedupe' AND reason = 'idempotency'"));
    }

    [Fact]
    public async Task RateLimitAndThrottle_InvalidSettings_FailStartup()
    {
        using var storage = NewStorage();
        using var host = Build(b => b.AddFunction<Call>("bad", f =>
        {
            f.RateLimit = new RateLimit(0, TimeSpan.FromMinutes(1));
            f.Throttle = new Throttle(5, TimeSpan.FromMilliseconds(10), Key: "event.data.(");
        }, _ => Task.CompletedTask), storage);

        var error = await Assert.ThrowsAsync<BatonConfigurationException>(() => host.StartAsync());

        Assert.Contains(error.Problems, p => p.StartsWith("function 'bad': RateLimit needs a limit of at least 1", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("function 'bad': Throttle needs a limit of at least 1", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("function 'bad': throttle key: the expression 'event.data.(' is invalid", StringComparison.Ordinal));
    }

    public sealed class OnSqlite : RateLimitAndThrottleTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : RateLimitAndThrottleTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

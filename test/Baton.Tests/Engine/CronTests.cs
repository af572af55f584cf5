using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class CronTests : EngineTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    private static Action<BatonBuilder> Ticker(string id, string cron, string? timeZone = null, MissedSlots missed = MissedSlots.Skip) =>
        b => b.AddFunction<CronTick>(id, f => f.TriggerOnCron(cron, timeZone, missed), ctx => Task.FromResult<object?>(ctx.Event.Data.Slot));

    private static List<DateTimeOffset> Slots(TestStorage storage, string functionId) =>
        [.. storage.Rows($"SELECT input FROM runs WHERE function_id = '{functionId}'")
            .Select(r => System.Text.Json.JsonDocument.Parse(r[0]).RootElement[0].GetProperty("data").GetProperty("slot").GetDateTimeOffset())
            .Order()];

    [Fact]
    public async Task Cron_EachSlot_FiresOneRunWithTheSlotTime()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(Ticker("ticker", "*/5 * * * *"), time: time);

        for (var slot = 1; slot <= 3; slot++)
        {
            var expected = slot;
            await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(2), () => Task.FromResult(Slots(host.Storage, "ticker").Count == expected));
        }

        var slots = Slots(host.Storage, "ticker");
        Assert.Equal([Start.AddMinutes(5), Start.AddMinutes(10), Start.AddMinutes(15)], slots);
        var runId = host.Storage.Rows("SELECT id FROM runs ORDER BY created_at LIMIT 1")[0][0];
        var run = await host.WaitAsync(runId);
        Assert.Equal(Start.AddMinutes(5), run.Output!.Value.GetDateTimeOffset());
        Assert.Equal(LifecycleEvents.Cron, run.Event.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Cron_TimeZoneAndSeconds_AreHonoured()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(b =>
        {
            Ticker("paris-nine", "0 9 * * *", "Europe/Paris")(b);
            Ticker("half-minute", "30 * * * * *")(b);
        }, time: time);

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(29), () => Task.FromResult(Slots(host.Storage, "half-minute").Count == 1));
        Assert.Equal([Start.AddSeconds(30)], Slots(host.Storage, "half-minute"));

        // 09:00 in Paris in January is 08:00 UTC.
        Assert.Equal(Start.AddHours(8), DateTimeOffset.FromUnixTimeMilliseconds(host.Storage.Scalar("SELECT next_at FROM schedules WHERE function_id = 'paris-nine'")));
    }

    [Fact]
    public async Task Cron_SlotsMissedWhileDown_AreSkippedOrTheLatestCaughtUp()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        Action<BatonBuilder> functions = b =>
        {
            Ticker("skipper", "0 * * * *")(b);
            Ticker("catcher", "0 * * * *", missed: MissedSlots.CatchUpOne)(b);
        };
        await using (await StartAsync(functions, storage, time))
        {
        }

        // Everything is down from 00:00 to 05:10: five hourly slots pass.
        time.Advance(TimeSpan.FromHours(5) + TimeSpan.FromMinutes(10));
        await using var host = await StartAsync(functions, storage, time);
        await TestHost.EventuallyAsync(() => Task.FromResult(storage.Scalar("SELECT COUNT(*) FROM schedules WHERE next_at = " + Start.AddHours(6).ToUnixTimeMilliseconds()) == 2), "both schedules moved on to 06:00");

        Assert.Empty(Slots(storage, "skipper"));
        Assert.Equal([Start.AddHours(5)], Slots(storage, "catcher"));

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(50) - TimeSpan.FromSeconds(2), () => Task.FromResult(Slots(storage, "skipper").Count == 1 && Slots(storage, "catcher").Count == 2));
        Assert.Equal([Start.AddHours(6)], Slots(storage, "skipper"));
        Assert.Equal([Start.AddHours(5), Start.AddHours(6)], Slots(storage, "catcher"));
    }

    [Fact]
    public async Task Cron_Restart_NeitherRepeatsNorLosesASlot()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        await using (var first = await StartAsync(Ticker("ticker", "*/5 * * * *"), storage, time))
        {
            await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(2), () => Task.FromResult(Slots(storage, "ticker").Count == 1));
        }

        // Down for less than the grace period around the 00:10 slot: it fires late, once.
        time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(20));
        await using var second = await StartAsync(Ticker("ticker", "*/5 * * * *"), storage, time);
        await TestHost.EventuallyAsync(() => Task.FromResult(Slots(storage, "ticker").Count == 2), "the late slot fired");
        Assert.Equal([Start.AddMinutes(5), Start.AddMinutes(10)], Slots(storage, "ticker"));
    }

    [Fact]
    public async Task Cron_InvalidExpressionOrTimeZone_FailsStartupWithEveryProblem()
    {
        using var storage = NewStorage();
        using var host = Build(b => b
                .AddFunction<CronTick>("bad-cron", f => f.TriggerOnCron("61 * * * *"), _ => Task.CompletedTask)
                .AddFunction<CronTick>("bad-zone", f => f.TriggerOnCron("0 * * * *", "Mars/Olympus_Mons"), _ => Task.CompletedTask),
            storage);

        var error = await Assert.ThrowsAsync<BatonConfigurationException>(() => host.StartAsync());

        Assert.Contains(error.Problems, p => p.StartsWith("function 'bad-cron': cron expression '61 * * * *' is invalid", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p == "function 'bad-zone': time zone 'Mars/Olympus_Mons' of cron '0 * * * *' is not known; give an IANA id such as 'Europe/Paris'");
        Assert.False(storage.Exists, "nothing was written before validation failed");
    }

    public sealed class OnSqlite : CronTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : CronTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

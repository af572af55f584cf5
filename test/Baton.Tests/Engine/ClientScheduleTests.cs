using System.Collections.Concurrent;
using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

/// <summary>Cron schedules created, changed, paused and deleted through the client at run time.</summary>
public abstract class ClientScheduleTests : EngineTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    /// <summary>
    /// A function with no trigger of its own that records each tick as "externalId@HH:mm". A run executing while the fake
    /// clock jumps minutes can lose its lease and run again (at least once), so tests count distinct ticks.
    /// </summary>
    private static Action<BatonBuilder> Reminder(ConcurrentQueue<string> ticks) =>
        b => b.AddFunction<CronTick>("remind", null, ctx =>
        {
            ticks.Enqueue($"{ctx.Event.Data.ExternalId}@{ctx.Event.Data.Slot:HH:mm}");
            return Task.CompletedTask;
        });

    [Fact]
    public async Task CreateSchedule_FiresEachSlotWithItsExternalId_AndCreatingAgainWithTheKeyUpdatesIt()
    {
        var time = new FakeTimeProvider(Start);
        var ticks = new ConcurrentQueue<string>();
        await using var host = await StartAsync(Reminder(ticks), time: time);

        var created = await host.Client.CreateScheduleAsync("remind", "*/10 * * * *", new ScheduleOptions { ExternalId = "user-1", DeduplicationKey = "user-1-digest" });
        Assert.Equal((Start.AddMinutes(10), false, "user-1"), (created.NextAt, created.FromCode, created.ExternalId));

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(10), () => Task.FromResult(ticks.Distinct().Count() == 1));
        Assert.Equal(["user-1@00:10"], ticks.Distinct());

        // The same key: the schedule changes (every 5 minutes, with a new external id); no second schedule appears.
        var again = await host.Client.CreateScheduleAsync("remind", "*/5 * * * *", new ScheduleOptions { ExternalId = "user-1b", DeduplicationKey = "user-1-digest" });
        Assert.Equal(created.Id, again.Id);
        Assert.Equal(Start.AddMinutes(15), again.NextAt);
        Assert.Single(await host.Client.ListSchedulesAsync("remind"));

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(5), () => Task.FromResult(ticks.Distinct().Count() == 2));
        Assert.Equal(["user-1@00:10", "user-1b@00:15"], ticks.Distinct());
    }

    [Fact]
    public async Task PauseResumeDelete_StopAndRestartFiring_WithoutFiringSlotsPassedWhilePaused()
    {
        var time = new FakeTimeProvider(Start);
        var ticks = new ConcurrentQueue<string>();
        await using var host = await StartAsync(Reminder(ticks), time: time);
        var schedule = await host.Client.CreateScheduleAsync("remind", "*/10 * * * *", new ScheduleOptions { ExternalId = "a" });

        // A control schedule on the same slots proves the schedule loop ran for each slot. (A run executing while the
        // fake clock jumps 10 minutes can lose its lease and run again, so ticks are counted once per slot.)
        await host.Client.CreateScheduleAsync("remind", "*/10 * * * *", new ScheduleOptions { ExternalId = "control" });
        int Ticks(string who) => ticks.Distinct().Count(t => t.StartsWith(who + "@", StringComparison.Ordinal));

        await host.Client.PauseScheduleAsync(schedule.Id);
        Assert.True((await host.Client.GetScheduleAsync(schedule.Id))!.Paused);
        for (var i = 1; i <= 4; i++)
        {
            var slots = i;
            await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(10), () => Task.FromResult(Ticks("control") == slots));
        }

        Assert.Equal(0, Ticks("a"));

        // At 00:40 the schedule resumes from its next slot (00:50); 00:10 to 00:40 are not fired.
        await host.Client.ResumeScheduleAsync(schedule.Id);
        Assert.Equal(Start.AddMinutes(50), (await host.Client.GetScheduleAsync(schedule.Id))!.NextAt);
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(10), () => Task.FromResult(Ticks("a") == 1 && Ticks("control") == 5));
        Assert.Contains("a@00:50", ticks);

        Assert.True(await host.Client.DeleteScheduleAsync(schedule.Id));
        Assert.False(await host.Client.DeleteScheduleAsync(schedule.Id));
        Assert.Null(await host.Client.GetScheduleAsync(schedule.Id));
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(10), () => Task.FromResult(Ticks("control") == 6));
        Assert.Equal(1, Ticks("a"));
    }

    [Fact]
    public async Task UpdateAndList_ChangeTheExpression_FilterAndPage_AndSurviveARestartBesideCodeSchedules()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var ticks = new ConcurrentQueue<string>();
        Action<BatonBuilder> functions = b =>
        {
            Reminder(ticks)(b);
            b.AddFunction<CronTick>("nightly", f => f.TriggerOnCron("0 2 * * *"), _ => Task.CompletedTask);
        };

        string[] ids;
        await using (var first = await StartAsync(functions, storage, time))
        {
            ids = [.. await Task.WhenAll(Enumerable.Range(0, 5).Select(async i =>
                (await first.Client.CreateScheduleAsync("remind", "0 * * * *", new ScheduleOptions { ExternalId = i % 2 == 0 ? "even" : "odd" })).Id))];
            var updated = await first.Client.UpdateScheduleAsync(ids[0], "30 8 * * *", new ScheduleOptions { TimeZone = "Europe/Paris", ExternalId = "even" });
            Assert.Equal(("30 8 * * *", "Europe/Paris", Start.AddHours(7).AddMinutes(30)), (updated.Cron, updated.TimeZone, updated.NextAt));
        }

        // A restart registers the schedules in code again; those created through the client stay as they were.
        await using var second = await StartAsync(functions, storage, time);
        var all = await second.Client.ListSchedulesAsync();
        Assert.Equal(6, all.Count);
        Assert.Single(all, s => s.FromCode && s.FunctionId == "nightly");
        Assert.Equal(3, (await second.Client.ListSchedulesAsync("remind", externalId: "even")).Count);
        Assert.Equal("30 8 * * *", (await second.Client.GetScheduleAsync(ids[0]))!.Cron);

        var page1 = await second.Client.ListSchedulesAsync("remind", limit: 3);
        var page2 = await second.Client.ListSchedulesAsync("remind", afterId: page1[^1].Id, limit: 3);
        Assert.Equal(ids.Order(StringComparer.Ordinal), page1.Concat(page2).Select(s => s.Id));
    }

    [Fact]
    public async Task BadSchedules_AreRefusedWithWhatIsWrong_AndCodeSchedulesCannotBeChangedThroughTheClient()
    {
        await using var host = await StartAsync(b =>
        {
            Reminder(new ConcurrentQueue<string>())(b);
            b.AddFunction<CronTick>("nightly", f => f.TriggerOnCron("0 2 * * *"), _ => Task.CompletedTask);
        });

        var unknown = await Assert.ThrowsAsync<UnknownFunctionException>(() => host.Client.CreateScheduleAsync("nope", "* * * * *"));
        Assert.Contains("remind", unknown.Message, StringComparison.Ordinal);
        var bad = await Assert.ThrowsAsync<ArgumentException>(() => host.Client.CreateScheduleAsync("remind", "61 * * * *", new ScheduleOptions { TimeZone = "Mars/Olympus", DeduplicationKey = "" }));
        Assert.Contains("cron expression '61 * * * *' is invalid", bad.Message, StringComparison.Ordinal);
        Assert.Contains("deduplication key", bad.Message, StringComparison.Ordinal);
        var zone = await Assert.ThrowsAsync<ArgumentException>(() => host.Client.CreateScheduleAsync("remind", "* * * * *", new ScheduleOptions { TimeZone = "Mars/Olympus" }));
        Assert.Contains("'Mars/Olympus'", zone.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<KeyNotFoundException>(() => host.Client.UpdateScheduleAsync("missing", "* * * * *"));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => host.Client.PauseScheduleAsync("missing"));

        var code = Assert.Single(await host.Client.ListSchedulesAsync("nightly"));
        var change = await Assert.ThrowsAsync<InvalidOperationException>(() => host.Client.UpdateScheduleAsync(code.Id, "* * * * *"));
        Assert.Contains("declared in code", change.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => host.Client.DeleteScheduleAsync(code.Id));
        await host.Client.PauseScheduleAsync(code.Id);
        Assert.True((await host.Client.GetScheduleAsync(code.Id))!.Paused);
        Assert.Equal(1, host.Storage.Scalar("SELECT COUNT(*) FROM schedules"));
    }

    public sealed class OnSqlite : ClientScheduleTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : ClientScheduleTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using Baton.Tests.Infrastructure;

namespace Baton.Tests.Engine;

/// <summary>
/// Many events sent at once by concurrent senders to a function under several rules together (concurrency per function
/// and per tenant, a rate limit per user, idempotency per order): no limit is exceeded, no event is lost (each one
/// accepted either started a run that completed or is recorded as skipped with its reason), and nothing runs twice.
/// </summary>
public abstract class FlowControlEndToEndTests : EngineTests
{
    public sealed record Order(string Tenant, string User, string OrderId);

    [Fact]
    public async Task SeveralRulesAtOnce_ManyConcurrentEvents_NoLimitExceeded_NothingLost()
    {
        var spans = new ConcurrentBag<(string Tenant, string OrderId, long Start, long End)>();
        await using var host = await StartAsync(b => b.AddFunction<Order>("fulfil", f =>
        {
            f.TriggerOn("order/placed");
            f.LimitConcurrency(4).LimitConcurrency(1, key: "event.data.tenant");
            f.RateLimit = new RateLimit(3, TimeSpan.FromHours(1), Key: "event.data.user");
            f.Idempotency = "event.data.orderId";
        }, async ctx => await ctx.Step.Run("ship", async () =>
        {
            var start = Stopwatch.GetTimestamp();
            await Task.Delay(15);
            spans.Add((ctx.Event.Data.Tenant, ctx.Event.Data.OrderId, start, Stopwatch.GetTimestamp()));
        })));

        // 4 tenants x 3 users; each user places 5 orders, re-sends 2 of them under new event ids (duplicate orders), and
        // 1 event is sent twice with the same id (a retried request).
        var events = new List<BatonEvent>();
        for (var t = 0; t < 4; t++)
        {
            for (var u = 0; u < 3; u++)
            {
                var (tenant, user) = ($"t{t}", $"t{t}-u{u}");
                events.AddRange(Enumerable.Range(0, 5).Select(o => new BatonEvent("order/placed", new Order(tenant, user, $"{user}-o{o}")) { Id = $"{user}-o{o}" }));
                events.AddRange(Enumerable.Range(0, 2).Select(o => new BatonEvent("order/placed", new Order(tenant, user, $"{user}-o{o}")) { Id = $"{user}-o{o}-again" }));
            }
        }

        var retried = events.Where((_, i) => i % 7 == 3).ToList();
        var shuffled = events.Concat(retried).OrderBy(e => HashCode.Combine(e.Id, 17)).ToList();
        var results = await Task.WhenAll(shuffled.Chunk(6).Select(chunk => Task.Run(() => host.Client.SendAsync(chunk))));

        // Every distinct event is stored once, whatever the repeats.
        Assert.Equal(events.Count, host.Storage.Scalar("SELECT COUNT(*) FROM events"));
        var runIds = results.SelectMany(r => r.RunIds).Distinct().ToList();
        foreach (var runId in runIds)
        {
            Assert.Equal(RunStatus.Completed, (await host.WaitAsync(runId)).Status);
        }

        // Each accepted event either started a run or was skipped, with a reason; never both, never neither.
        var started = host.Storage.Rows("SELECT event_id FROM runs").Select(r => r[0]).ToList();
        var skipped = host.Storage.Rows("SELECT event_id, reason FROM skipped_runs").ToList();
        Assert.Equal(runIds.Count, started.Count);
        Assert.Equal(events.Select(e => e.Id!).Order(StringComparer.Ordinal), started.Concat(skipped.Select(s => s[0])).Order(StringComparer.Ordinal));
        Assert.All(skipped, s => Assert.Contains(s[1], new[] { "rate-limited", "idempotency" }));

        // Idempotency: one run per order; the rate limit: at most 3 runs per user, and each user had at least 2 orders
        // that got no run at all, so those events were dropped by the rate limit.
        var ran = spans.Select(s => s.OrderId).ToList();
        Assert.Equal(ran.Count, ran.Distinct().Count());
        Assert.Equal(runIds.Count, ran.Count);
        foreach (var user in events.Select(e => ((Order)e.Data!).User).Distinct())
        {
            var orders = ran.Count(o => o.StartsWith(user + "-", StringComparison.Ordinal));
            Assert.InRange(orders, 1, 3);
            var droppedOrders = Enumerable.Range(0, 5).Select(o => $"{user}-o{o}").Where(o => !ran.Contains(o)).ToList();
            Assert.True(droppedOrders.Count >= 2, $"{user}: {droppedOrders.Count} orders without a run");
            Assert.All(droppedOrders, o => Assert.Contains(skipped, s => s[0] == o && s[1] == "rate-limited"));
        }

        // Concurrency: never more than 4 at once, never 2 of one tenant at once.
        Assert.InRange(Spans.MaxOverlap(spans.Select(s => (s.Start, s.End))), 1, 4);
        Assert.All(Enumerable.Range(0, 4), t => Assert.InRange(Spans.MaxOverlap(spans.Where(s => s.Tenant == $"t{t}").Select(s => (s.Start, s.End))), 1, 1));
    }

    public sealed class OnSqlite : FlowControlEndToEndTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : FlowControlEndToEndTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

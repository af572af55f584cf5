using System.Collections.Concurrent;
using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

/// <summary>The rules applied when a run is created: trigger conditions, priority, idempotency, delay.</summary>
public abstract class CreationRulesTests : EngineTests
{
    public sealed record Order(string OrderId, int Amount = 0, bool Vip = false);

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    [Fact]
    public async Task TriggerCondition_OnlyMatchingEventsStartRuns_AlsoWhenAnotherNodeAcceptsThem()
    {
        using var storage = NewStorage();
        await using var worker = await StartAsync(b => b.AddFunction<Order>("big-orders", f => f.TriggerOn("order/placed", @if: "event.data.amount > 100"), _ => Task.CompletedTask), storage);
        await using var sender = await StartAsync(_ => { }, storage, options: o => o.RunWorker = false);

        var small = await worker.Client.SendAsync(new BatonEvent("order/placed", new Order("a", Amount: 50)));
        var big = await worker.Client.SendAsync(new BatonEvent("order/placed", new Order("b", Amount: 150)));
        var viaOtherNode = await sender.Client.SendAsync([new BatonEvent("order/placed", new Order("c", Amount: 10)), new BatonEvent("order/placed", new Order("d", Amount: 500))]);

        Assert.Empty(small.RunIds);
        Assert.Single(big.RunIds);
        var remote = Assert.Single(viaOtherNode.RunIds);
        Assert.Equal("d", (await worker.WaitAsync(remote)).Event.GetProperty("data").GetProperty("orderId").GetString());
        Assert.Equal(2, storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    [Fact]
    public async Task Priority_PositiveJumpsAheadAndNegativeWaits()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var order = new ConcurrentQueue<string>();
        Action<BatonBuilder> function = b => b.AddFunction<Order>("prioritized", f =>
        {
            f.TriggerOn("order/placed");
            f.Priority = "event.data.vip ? 60 : (event.data.amount < 0 ? -30 : 0)";
        }, async ctx => await ctx.Step.Run("record", () => order.Enqueue(ctx.Event.Data.OrderId)));

        // Queued while no worker runs: five ordinary orders, then a VIP one, then one pushed back.
        await using (var sender = await StartAsync(function, storage, time, o => o.RunWorker = false))
        {
            for (var i = 0; i < 5; i++)
            {
                await sender.Client.SendAsync(new BatonEvent("order/placed", new Order($"o{i}")));
                time.Advance(TimeSpan.FromSeconds(1));
            }

            await sender.Client.SendAsync(new BatonEvent("order/placed", new Order("vip", Vip: true)));
            await sender.Client.SendAsync(new BatonEvent("order/placed", new Order("later", Amount: -1)));
        }

        await using var worker = await StartAsync(function, storage, time, o => o.MaxConcurrentRuns = 1);
        await TestHost.EventuallyAsync(() => Task.FromResult(order.Count == 6), "six runs ran");
        Assert.Equal("vip", order.First());
        Assert.DoesNotContain("later", order);

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => Task.FromResult(order.Count == 7));
        Assert.Equal("later", order.Last());
    }

    [Fact]
    public async Task Idempotency_OneRunPerKeyWithinTheWindow()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(b => b.AddFunction<Order>("charge", f =>
        {
            f.TriggerOn("order/placed");
            f.Idempotency = "event.data.orderId";
            f.IdempotencyWindow = TimeSpan.FromHours(1);
        }, _ => Task.CompletedTask), time: time);

        var first = await host.Client.SendAsync(new BatonEvent("order/placed", new Order("o1")));
        var duplicate = await host.Client.SendAsync([new BatonEvent("order/placed", new Order("o1")), new BatonEvent("order/placed", new Order("o2"))]);
        time.Advance(TimeSpan.FromHours(1));
        var afterWindow = await host.Client.SendAsync(new BatonEvent("order/placed", new Order("o1")));

        Assert.Single(first.RunIds);
        Assert.Single(duplicate.RunIds);
        Assert.Single(afterWindow.RunIds);
        Assert.Equal(3, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));
        Assert.Equal(4, host.Storage.Scalar("SELECT COUNT(*) FROM events"));
    }

    [Fact]
    public async Task TriggerOptions_IdempotencyKeyReturnsTheFirstRun_AndDelayHoldsTheRunBack()
    {
        var time = new FakeTimeProvider(Start);
        var ran = new ConcurrentQueue<string>();
        await using var host = await StartAsync(b => b.AddFunction<Order>("job", null, ctx =>
        {
            ran.Enqueue(ctx.Event.Data.OrderId);
            return Task.CompletedTask;
        }), time: time);

        var first = await host.Client.TriggerAsync("job", new Order("a"), new TriggerOptions { IdempotencyKey = "k1" });
        var again = await host.Client.TriggerAsync("job", new Order("b"), new TriggerOptions { IdempotencyKey = "k1" });
        Assert.Equal(first, again);
        await host.WaitAsync(first);

        var delayed = await host.Client.TriggerAsync("job", new Order("later"), new TriggerOptions { Delay = TimeSpan.FromHours(2) });
        Assert.Equal(Start + TimeSpan.FromHours(2), DateTimeOffset.FromUnixTimeMilliseconds(host.Storage.Scalar($"SELECT available_at FROM queue WHERE run_id = '{delayed}'")));
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(2), async () => (await host.StatusAsync(delayed)).IsTerminal());

        Assert.Equal(["a", "later"], ran);
        Assert.Equal(2, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    [Fact]
    public async Task TriggerOptions_TtlExpiresAnUnstartedRun_PriorityJumpsAhead_AndTagsAreKept()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var order = new ConcurrentQueue<string>();
        Action<BatonBuilder> function = b => b.AddFunction<Order>("job", null, async ctx => await ctx.Step.Run("record", () => order.Enqueue(ctx.Event.Data.OrderId)));
        string stale, plain, urgent;
        await using (var sender = await StartAsync(function, storage, time, o => o.RunWorker = false))
        {
            stale = await sender.Client.TriggerAsync("job", new Order("stale"), new TriggerOptions { Ttl = TimeSpan.FromMinutes(1) });
            plain = await sender.Client.TriggerAsync("job", new Order("plain"));
            var tagged = new TriggerOptions { Priority = 60 };
            tagged.Tags.Add("customer:42");
            tagged.Tags.Add("plan:pro");
            urgent = await sender.Client.TriggerAsync("job", new Order("urgent"), tagged);
            await Assert.ThrowsAsync<ArgumentException>(() => sender.Client.TriggerAsync("job", null, new TriggerOptions { Ttl = TimeSpan.Zero, Queue = "bad queue" }));
            time.Advance(TimeSpan.FromMinutes(2));
        }

        await using var worker = await StartAsync(function, storage, time, o => o.MaxConcurrentRuns = 1);
        var expired = await worker.WaitAsync(stale);
        await worker.WaitAsync(plain);
        var urgentRun = await worker.WaitAsync(urgent);

        Assert.Equal(RunStatus.Expired, expired.Status);
        Assert.Equal("Baton.Ttl", expired.Error!.Type);
        Assert.Equal(["urgent", "plain"], order);
        Assert.Equal(["customer:42", "plan:pro"], urgentRun.Tags);
        Assert.Empty(expired.Tags);
    }

    [Fact]
    public async Task CreationRules_InvalidExpressions_FailStartup()
    {
        using var storage = NewStorage();
        using var host = Build(b => b.AddFunction<Order>("bad", f =>
        {
            f.TriggerOn("a", @if: "event.data.x >");
            f.Priority = "event.data.(";
            f.Idempotency = "nope.x";
            f.TriggerConditions["not-a-trigger"] = "true";
        }, _ => Task.CompletedTask), storage);

        var error = await Assert.ThrowsAsync<BatonConfigurationException>(() => host.StartAsync());

        Assert.Contains(error.Problems, p => p.StartsWith("function 'bad': trigger 'a' (if): the expression 'event.data.x >' is invalid at column", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("function 'bad': priority: the expression 'event.data.(' is invalid", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("function 'bad': idempotency key: the expression 'nope.x' is invalid", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p == "function 'bad': the condition for 'not-a-trigger' belongs to no trigger of the function");
    }

    public sealed class OnSqlite : CreationRulesTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : CreationRulesTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

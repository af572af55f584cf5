using System.Collections.Concurrent;
using System.Globalization;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

public abstract class WaitForEventTests : EngineTests
{
    public sealed record Doc(string DocId, int Limit = 0);

    public sealed record Approval(string DocId, string Approver, int Amount = 0);

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    private static Action<BatonBuilder> ApprovalGate(string? match = "data.docId", string? condition = null, TimeSpan? lookback = null, string id = "gate") =>
        b => b.AddFunction<Doc>(id, f => f.TriggerOn("doc/uploaded"), async ctx =>
        {
            var approval = await ctx.Step.WaitForEvent<Approval>("approval", "doc/approved", TimeSpan.FromHours(1), match, condition, lookback);
            return approval is null ? "expired" : $"{approval.Data.Approver} approved {approval.Data.DocId} ({approval.Name})";
        });

    [Fact]
    public async Task WaitForEvent_MatchingEvent_ResumesOnlyTheRunWhoseMatchValueEquals()
    {
        await using var host = await StartAsync(ApprovalGate());

        var first = Assert.Single((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1")))).RunIds);
        var second = Assert.Single((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d2")))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(first) == RunStatus.WaitingForEvent && await host.StatusAsync(second) == RunStatus.WaitingForEvent, "both runs wait");

        await host.Client.SendAsync(new BatonEvent("doc/approved", new Approval("d2", "bob")));
        var resumed = await host.WaitAsync(second);

        Assert.Equal(RunStatus.Completed, resumed.Status);
        Assert.Equal("bob approved d2 (doc/approved)", resumed.Output!.Value.GetString());
        var step = Assert.Single(resumed.Steps);
        Assert.Equal((StepKind.WaitForEvent, StepStatus.Completed), (step.Kind, step.Status));
        Assert.Equal("bob", step.Output!.Value.GetProperty("data").GetProperty("approver").GetString());
        Assert.Equal(RunStatus.WaitingForEvent, await host.StatusAsync(first));
        Assert.Equal(1, host.Storage.Scalar("SELECT COUNT(*) FROM waits"));

        await host.Client.SendAsync(new BatonEvent("doc/approved", new Approval("d1", "ann")));
        Assert.Equal("ann approved d1 (doc/approved)", (await host.WaitAsync(first)).Output!.Value.GetString());
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM waits"));
    }

    [Fact]
    public async Task WaitForEvent_SecondMatchingEvent_DoesNotResumeTheRunAgain()
    {
        var observed = new ConcurrentBag<string>();
        await using var host = await StartAsync(b => b.AddFunction<Doc>("once", f => f.TriggerOn("doc/uploaded"), async ctx =>
        {
            var approval = await ctx.Step.WaitForEvent<Approval>("approval", "doc/approved", TimeSpan.FromHours(1), match: "data.docId");
            await ctx.Step.Run("record", () => observed.Add(approval!.Data.Approver));
        }));
        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1")))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.WaitingForEvent, "the run waits");

        // Two matching events in one send and one more after: the first resolves the wait, the others find none.
        await host.Client.SendAsync([new BatonEvent("doc/approved", new Approval("d1", "ann")), new BatonEvent("doc/approved", new Approval("d1", "bob"))]);
        await host.Client.SendAsync(new BatonEvent("doc/approved", new Approval("d1", "cid")));
        await host.WaitAsync(runId);

        Assert.Equal(["ann"], observed);
    }

    [Fact]
    public async Task WaitForEvent_TimeoutPasses_ReturnsNull()
    {
        var time = new FakeTimeProvider(Start);
        await using var host = await StartAsync(ApprovalGate(), time: time);
        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1")))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.WaitingForEvent, "the run waits");
        var waiting = await host.Client.GetRunAsync(runId);
        Assert.Equal(Start + TimeSpan.FromHours(1), waiting!.Steps[0].WakeAt);

        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await host.StatusAsync(runId)).IsTerminal());
        var run = await host.WaitAsync(runId);

        Assert.Equal("expired", run.Output!.Value.GetString());
        Assert.Equal(JsonValueKindNull, run.Steps[0].Output?.ValueKind ?? JsonValueKindNull);
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM waits"));

        // The wait is over: a late event changes nothing.
        await host.Client.SendAsync(new BatonEvent("doc/approved", new Approval("d1", "late")));
        Assert.Equal("expired", (await host.Client.GetRunAsync(runId))!.Output!.Value.GetString());
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;

    [Fact]
    public async Task WaitForEvent_IfCondition_ResumesOnlyWhenTheExpressionHolds()
    {
        await using var host = await StartAsync(ApprovalGate(match: null, condition: "async.data.docId == event.data.docId && async.data.amount > event.data.limit"));
        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1", Limit: 100)))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.WaitingForEvent, "the run waits");

        await host.Client.SendAsync([
            new BatonEvent("doc/approved", new Approval("d1", "too-small", Amount: 50)),
            new BatonEvent("doc/approved", new Approval("d2", "other-doc", Amount: 500)),
            new BatonEvent("doc/approved", new { docId = "d1" }),
        ]);
        await host.Client.SendAsync(new BatonEvent("doc/approved", new Approval("d1", "big-enough", Amount: 500)));
        var run = await host.WaitAsync(runId);

        Assert.Equal("big-enough approved d1 (doc/approved)", run.Output!.Value.GetString());
    }

    [Fact]
    public async Task WaitForEvent_MatchAndIf_BothMustHold()
    {
        await using var host = await StartAsync(ApprovalGate(condition: "async.data.approver != 'mallory'"));
        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1")))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.WaitingForEvent, "the run waits");

        await host.Client.SendAsync(new BatonEvent("doc/approved", new Approval("d1", "mallory")));
        await host.Client.SendAsync(new BatonEvent("doc/approved", new Approval("d1", "trent")));

        Assert.Equal("trent approved d1 (doc/approved)", (await host.WaitAsync(runId)).Output!.Value.GetString());
    }

    [Fact]
    public async Task WaitForEvent_Lookback_MatchesAnEventSentBeforeTheWaitStarted()
    {
        await using var host = await StartAsync(b =>
        {
            ApprovalGate(lookback: TimeSpan.FromMinutes(5), id: "with-lookback")(b);
            ApprovalGate(id: "without-lookback")(b);
        });

        await host.Client.SendAsync(new BatonEvent("doc/approved", new Approval("d1", "early")));
        var runs = (await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1")))).RunIds;
        var infos = await Task.WhenAll(runs.Select(async r => (await host.Client.GetRunAsync(r))!));
        var with = infos.Single(r => r.FunctionId == "with-lookback").Id;
        var without = infos.Single(r => r.FunctionId == "without-lookback").Id;

        Assert.Equal("early approved d1 (doc/approved)", (await host.WaitAsync(with)).Output!.Value.GetString());
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(without) == RunStatus.WaitingForEvent, "the run without look-back waits");
    }

    [Fact]
    public async Task WaitForEvent_EventAndTimeoutRace_ExactlyOneOutcomeThatTheFunctionSeesOnEveryReplay()
    {
        var time = new FakeTimeProvider(Start);
        var seen = new ConcurrentDictionary<string, ConcurrentBag<string>>();
        await using var host = await StartAsync(b => b.AddFunction<Doc>("racer", f => f.TriggerOn("doc/uploaded"), async ctx =>
        {
            var approval = await ctx.Step.WaitForEvent<Approval>("approval", "doc/approved", TimeSpan.FromMinutes(10), match: "data.docId");
            var outcome = approval?.Data.Approver ?? "timeout";
            seen.GetOrAdd(ctx.RunId, _ => []).Add(outcome);

            // A sleep after the wait makes the run replay through it once more.
            await ctx.Step.Sleep("after", TimeSpan.FromMinutes(5));
            seen[ctx.RunId].Add(outcome);
            return outcome;
        }), time: time);

        var runIds = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            runIds.AddRange((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc($"d{i}")))).RunIds);
        }

        await TestHost.EventuallyAsync(async () => (await Task.WhenAll(runIds.Select(host.StatusAsync))).All(s => s == RunStatus.WaitingForEvent), "all runs wait");

        // The timeouts fall due while the matching events arrive.
        time.Advance(TimeSpan.FromMinutes(10));
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => host.Client.SendAsync(new BatonEvent("doc/approved", new Approval($"d{i}", "approver")))));
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromMinutes(5), async () => (await Task.WhenAll(runIds.Select(host.StatusAsync))).All(s => s.IsTerminal()));

        foreach (var runId in runIds)
        {
            var run = await host.WaitAsync(runId);
            var outcome = run.Output!.Value.GetString()!;
            var step = run.Steps.Single(s => s.Id == "approval");
            Assert.Equal(outcome == "timeout" ? null : outcome, step.Output?.ValueKind == JsonValueKindNull ? null : step.Output?.GetProperty("data").GetProperty("approver").GetString());
            Assert.All(seen[runId], s => Assert.Equal(outcome, s));
        }

        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM waits"));
    }

    [Fact]
    public async Task WaitForEvent_EventArrivesWhileNoWorkerRuns_IsDeliveredAfterRestart()
    {
        using var storage = NewStorage();
        string runId;
        await using (var first = await StartAsync(ApprovalGate(), storage))
        {
            runId = Assert.Single((await first.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1")))).RunIds);
            await TestHost.EventuallyAsync(async () => await first.StatusAsync(runId) == RunStatus.WaitingForEvent, "the run waits");
        }

        await using (var sender = await StartAsync(_ => { }, storage, options: o => o.RunWorker = false))
        {
            await sender.Client.SendAsync(new BatonEvent("doc/approved", new Approval("d1", "while-down")));
            Assert.Equal(RunStatus.Queued, await sender.StatusAsync(runId));
        }

        await using var restarted = await StartAsync(ApprovalGate(), storage);
        Assert.Equal("while-down approved d1 (doc/approved)", (await restarted.WaitAsync(runId)).Output!.Value.GetString());
    }

    [Fact]
    public async Task WaitForEvent_WaitingRuns_HoldNoWorkerSlot()
    {
        await using var host = await StartAsync(ApprovalGate(), options: o => o.MaxConcurrentRuns = 2);
        var runIds = (await host.Client.SendAsync(Enumerable.Range(0, 20).Select(i => new BatonEvent("doc/uploaded", new Doc($"d{i}"))))).RunIds;
        await TestHost.EventuallyAsync(async () => (await Task.WhenAll(runIds.Select(host.StatusAsync))).All(s => s == RunStatus.WaitingForEvent), "twenty runs wait on two slots");

        await host.Client.SendAsync(Enumerable.Range(0, 20).Select(i => new BatonEvent("doc/approved", new Approval($"d{i}", "x"))));
        foreach (var runId in runIds)
        {
            Assert.Equal(RunStatus.Completed, (await host.WaitAsync(runId)).Status);
        }
    }

    [Fact]
    public async Task WaitForEvent_ThousandsOfWaiters_EachIsResumedByItsOwnEvent()
    {
        // The guarantee: 10,000 runs waiting at once on SQLite; fewer on the PostgreSQL pass, which checks the same.
        var count = this is OnSqlite ? 10_000 : 2_000;
        await using var host = await StartAsync(ApprovalGate());
        var runIds = new List<string>();
        foreach (var chunk in Enumerable.Range(0, count).Chunk(1000))
        {
            runIds.AddRange((await host.Client.SendAsync(chunk.Select(i => new BatonEvent("doc/uploaded", new Doc($"d{i}"))))).RunIds);
        }

        await TestHost.EventuallyAsync(
            () => Task.FromResult(host.Storage.Scalar("SELECT COUNT(*) FROM waits") == count && host.Storage.Scalar("SELECT COUNT(*) FROM queue WHERE owner IS NOT NULL") == 0),
            $"{count} runs wait, none holding a lease");

        // Each approval names one document: it must resume exactly that run.
        foreach (var chunk in Enumerable.Range(0, count).Chunk(1000))
        {
            await host.Client.SendAsync(chunk.Select(i => new BatonEvent("doc/approved", new Approval($"d{i}", $"approver-{i}"))));
        }

        await TestHost.EventuallyAsync(() => Task.FromResult(host.Storage.Scalar("SELECT COUNT(*) FROM runs WHERE status = 3") == count), "every run completed");
        var outputs = host.Storage.Rows("SELECT id, output FROM runs").ToDictionary(r => r[0], r => r[1]);
        for (var i = 0; i < count; i++)
        {
            Assert.Equal($"\"approver-{i} approved d{i} (doc/approved)\"", outputs[runIds[i]]);
        }

        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM waits"));
    }

    [Theory]
    [InlineData("bad name ", null, null, "is not a valid event name")]
    [InlineData("doc/approved", "docId", null, "match 'docId' is not a match path")]
    [InlineData("doc/approved", "data.", null, "is not a match path")]
    [InlineData("doc/approved", null, "async.data.x ==", "is invalid at column 16")]
    [InlineData("doc/approved", null, "nope.data.x == 1", "Undeclared reference to 'nope'")]
    public async Task WaitForEvent_InvalidArguments_FailTheRunAtOnceWithAClearError(string eventName, string? match, string? condition, string expected)
    {
        await using var host = await StartAsync(b => b.AddFunction<Doc>("bad-wait", f => f.TriggerOn("doc/uploaded"), async ctx =>
        {
            await ctx.Step.WaitForEvent<Approval>("approval", eventName, TimeSpan.FromHours(1), match, condition);
        }));

        var run = await host.WaitAsync(Assert.Single((await host.Client.SendAsync(new BatonEvent("doc/uploaded", new Doc("d1")))).RunIds));

        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal(1, run.Attempt);
        Assert.Contains(expected, run.Error!.Message, StringComparison.Ordinal);
        Assert.Empty(run.Steps);
    }

    public sealed class OnSqlite : WaitForEventTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : WaitForEventTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

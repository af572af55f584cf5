using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

/// <summary>
/// Events whose data is larger than <see cref="BatonOptions.LargeValueBytes"/>: stored compressed out of the events
/// table and of each run's input, yet every rule, match, condition and wait sees the data as sent.
/// </summary>
public abstract class LargeEventTests : EngineTests
{
    public sealed record Doc(string Id, string Owner, string Text);

    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>~200 KB of varied text (with non-ASCII characters), fixed by its seed.</summary>
    private static string Text(int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder();
        string[] words = ["invoice", "clause", "résumé", "naïve", "Überblick", "の", "total", "party"];
        while (text.Length < 200_000)
        {
            text.Append(words[random.Next(words.Length)]).Append(random.Next(1000)).Append(' ');
        }

        return text.ToString();
    }

    private static long JsonBytes(Doc doc) => Encoding.UTF8.GetByteCount(JsonSerializer.Serialize(doc, JsonSerializerOptions.Web));

    [Fact]
    public async Task LargeEvent_ReachesItsRunExactly_RulesSeeItsData_AndTheHotTablesHoldReferences()
    {
        using var storage = NewStorage();
        var doc = new Doc("d1", "ann", Text(1));
        var seen = new ConcurrentQueue<string>();
        await using var host = await StartAsync(
            b => b.AddFunction<Doc>("index", f =>
            {
                f.TriggerOn("doc/uploaded");
                f.Idempotency = "event.data.owner"; // evaluated on the data as sent
            }, async ctx => await ctx.Step.Run("read", () =>
            {
                seen.Enqueue(ctx.Event.Data.Text);
                return ctx.Event.Data.Text.Length;
            })),
            storage);

        var sent = await host.Client.SendAsync(new BatonEvent("doc/uploaded", doc));
        var again = await host.Client.SendAsync(new BatonEvent("doc/uploaded", doc with { Id = "d2" }));
        var run = await host.WaitAsync(Assert.Single(sent.RunIds));

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(doc.Text, Assert.Single(seen));
        Assert.Empty(again.RunIds); // the same owner: the idempotency key was read from the large data

        // The events table and the run's input hold references; one compressed copy for each event, one for the run.
        Assert.True(storage.Scalar("SELECT MAX(LENGTH(data)) FROM events") < 200);
        Assert.True(storage.Scalar($"SELECT LENGTH(input) FROM runs WHERE id = '{run.Id}'") < 300);
        Assert.Equal(1, storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{sent.Ids[0]}'"));
        Assert.Equal(1, storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{run.Id}'"));
        Assert.True(storage.Scalar($"SELECT SUM(LENGTH(data)) FROM large_values WHERE run_id = '{run.Id}'") < doc.Text.Length / 2);

        // Read by id, the event and the run show the data; lists show its size.
        var read = (await host.Client.GetEventAsync(sent.Ids[0]))!;
        Assert.Equal(doc, read.Data.Deserialize<Doc>(JsonSerializerOptions.Web));
        Assert.Equal(JsonBytes(doc), read.DataBytes);
        Assert.Equal(doc, run.Event.GetProperty("data").Deserialize<Doc>(JsonSerializerOptions.Web));
        var listed = (await host.Client.ListEventsAsync("doc/uploaded")).Events.Single(e => e.Id == sent.Ids[0]);
        Assert.Equal(JsonValueKind.Null, listed.Data.ValueKind);
        Assert.Equal(JsonBytes(doc), listed.DataBytes);
        var listedRun = Assert.Single((await host.Client.ListRunsAsync(new RunQuery { FunctionId = "index" })).Runs);
        Assert.Equal(JsonValueKind.Null, listedRun.Event.GetProperty("data").ValueKind);
        Assert.Equal(JsonBytes(doc), listedRun.Event.GetProperty("dataBytes").GetInt64());
    }

    [Fact]
    public async Task WaitForEvent_LargeTriggerAndLargeAnswer_MatchAndConditionSeeTheData_AndTheRunKeepsItsCopyAfterTheEventIsPurged()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var (request, answer) = (new Doc("d1", "ann", Text(2)), new Doc("d1", "bob", Text(2)));
        var results = new ConcurrentQueue<string>();
        await using var host = await StartAsync(
            b => b.AddFunction<Doc>("review", f => f.TriggerOn("review/requested"), async ctx =>
            {
                // The condition compares the large texts of the trigger and of the incoming event.
                var approval = await ctx.Step.WaitForEvent<Doc>("approval", "review/approved", TimeSpan.FromDays(60), match: "data.id", @if: "async.data.text == event.data.text");
                await ctx.Step.Sleep("settle", TimeSpan.FromDays(30));
                await ctx.Step.Run("record", () => results.Enqueue(approval!.Data == answer ? "same" : "changed"));
            }),
            storage,
            time,
            o => o.HistoryRetention = null);

        var runId = Assert.Single((await host.Client.SendAsync(new BatonEvent("review/requested", request))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.WaitingForEvent, "the run waits");

        // Same id, different text: the match holds, the condition does not.
        await host.Client.SendAsync(new BatonEvent("review/approved", answer with { Text = Text(3) }));
        Assert.Equal(RunStatus.WaitingForEvent, await host.StatusAsync(runId));
        var approved = await host.Client.SendAsync(new BatonEvent("review/approved", answer));
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps");

        // The wait's result refers to the run's own copy of the event's data.
        var step = (await host.Client.GetRunAsync(runId))!.Steps.Single(s => s.Id == "approval");
        Assert.Null(step.Output);
        Assert.Equal(JsonBytes(answer), step.OutputBytes);
        Assert.True(storage.Scalar($"SELECT LENGTH(output) FROM steps WHERE run_id = '{runId}' AND key = 'approval'") < 300);

        // History retention deletes the events and their values while the run sleeps; the run still reads its copy.
        time.Advance(TimeSpan.FromDays(10));
        await using (var purger = storage.Create(time))
        {
            await purger.InitializeAsync(default);
            await purger.Runs.PurgeAsync(time.GetUtcNow() - TimeSpan.FromDays(7), 100, default);
        }

        Assert.Null(await host.Client.GetEventAsync(approved.Ids[0]));
        Assert.Equal(0, storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{approved.Ids[0]}'"));
        Assert.Equal(answer, (await host.Client.GetStepOutputAsync(runId, "approval"))!.Value.GetProperty("data").Deserialize<Doc>(JsonSerializerOptions.Web));
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromDays(30), async () => (await host.StatusAsync(runId)).IsTerminal());
        Assert.Equal(RunStatus.Completed, await host.StatusAsync(runId));
        Assert.Equal(["same"], results);
    }

    [Fact]
    public async Task RerunFromAStep_AfterAWaitForALargeEvent_HasItsOwnCopy_ThatReplaysAfterTheOriginalIsPurged()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var answer = new Doc("d1", "bob", Text(11));
        var checks = new ConcurrentQueue<bool>();
        await using var host = await StartAsync(
            b => b.AddFunction<Doc>("gate", f => f.TriggerOn("review/requested"), async ctx =>
            {
                var approval = await ctx.Step.WaitForEvent<Doc>("approval", "review/approved", TimeSpan.FromDays(1), match: "data.id");
                await ctx.Step.Run("check", () => approval!.Data == answer);
                await ctx.Step.Sleep("later", TimeSpan.FromDays(30));
                await ctx.Step.Run("final", () => checks.Enqueue(approval!.Data == answer));
            }),
            storage,
            time,
            o => o.HistoryRetention = null);

        var original = Assert.Single((await host.Client.SendAsync(new BatonEvent("review/requested", new Doc("d1", "ann", "short")))).RunIds);
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(original) == RunStatus.WaitingForEvent, "the run waits");
        await host.Client.SendAsync(new BatonEvent("review/approved", answer));
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(original) == RunStatus.Waiting, "the run sleeps");
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromDays(30), async () => (await host.StatusAsync(original)).IsTerminal());

        var rerun = await host.Client.RerunFromStepAsync(original, "check");
        await TestHost.EventuallyAsync(async () => await host.StatusAsync(rerun) == RunStatus.Waiting, "the rerun sleeps");
        time.Advance(TimeSpan.FromDays(10));
        await using (var purger = storage.Create(time))
        {
            await purger.InitializeAsync(default);
            await purger.Runs.PurgeAsync(time.GetUtcNow() - TimeSpan.FromDays(7), 100, default);
        }

        Assert.Null(await host.Client.GetRunAsync(original));
        Assert.Equal(answer, (await host.Client.GetStepOutputAsync(rerun, "approval"))!.Value.GetProperty("data").Deserialize<Doc>(JsonSerializerOptions.Web));
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromDays(30), async () => (await host.StatusAsync(rerun)).IsTerminal());
        Assert.Equal(RunStatus.Completed, await host.StatusAsync(rerun));
        Assert.Equal([true, true], checks);
    }

    [Fact]
    public async Task WaitForEvent_Lookback_FindsALargeEventSentBefore()
    {
        var answer = new Doc("d7", "bob", Text(4));
        var received = new ConcurrentQueue<Doc>();
        await using var host = await StartAsync(b => b.AddFunction<Doc>("late", f => f.TriggerOn("review/requested"), async ctx =>
        {
            var approval = await ctx.Step.WaitForEvent<Doc>("approval", "review/approved", TimeSpan.FromDays(1), match: "data.id", lookback: TimeSpan.FromMinutes(5));
            received.Enqueue(approval!.Data);
        }));

        await host.Client.SendAsync([new BatonEvent("review/approved", answer with { Id = "other" }), new BatonEvent("review/approved", answer)]);
        var run = await host.WaitAsync(Assert.Single((await host.Client.SendAsync(new BatonEvent("review/requested", new Doc("d7", "ann", "short")))).RunIds));

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(answer, Assert.Single(received));
        Assert.Equal(1, host.Storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{run.Id}'"));
    }

    [Fact]
    public async Task CancelOnEvent_MatchesOnTheLargeTriggersData()
    {
        await using var host = await StartAsync(b => b.AddFunction<Doc>("slow", f =>
        {
            f.TriggerOn("doc/uploaded");
            f.CancelOnEvent("doc/deleted", match: "data.id");
        }, async ctx => await ctx.Step.Sleep("nap", TimeSpan.FromDays(1))));

        var runs = (await host.Client.SendAsync([new BatonEvent("doc/uploaded", new Doc("d1", "ann", Text(5))), new BatonEvent("doc/uploaded", new Doc("d2", "ann", Text(6)))])).RunIds;
        await TestHost.EventuallyAsync(async () => (await Task.WhenAll(runs.Select(host.StatusAsync))).All(s => s == RunStatus.Waiting), "both runs sleep");

        await host.Client.SendAsync(new BatonEvent("doc/deleted", new Doc("d2", "ann", "")));

        Assert.Equal(RunStatus.Waiting, await host.StatusAsync(runs[0]));
        Assert.Equal(RunStatus.Cancelled, await host.StatusAsync(runs[1]));
    }

    [Fact]
    public async Task Batch_OfLargeEvents_GetsEveryEvent_AndOwnsTheirValues()
    {
        var batches = new ConcurrentQueue<string[]>();
        var docs = new[] { new Doc("a", "ann", Text(7)), new Doc("b", "ann", Text(8)), new Doc("c", "ann", Text(9)) };
        await using var host = await StartAsync(b => b.AddFunction<Doc>("digest", f =>
        {
            f.TriggerOn("doc/uploaded");
            f.BatchEvents(3, TimeSpan.FromMinutes(1));
        }, ctx =>
        {
            batches.Enqueue([.. ctx.Events.Select(e => e.Data.Text)]);
            return Task.CompletedTask;
        }));

        foreach (var doc in docs)
        {
            await host.Client.SendAsync(new BatonEvent("doc/uploaded", doc));
        }

        await TestHost.EventuallyAsync(() => Task.FromResult(!batches.IsEmpty), "the batch runs");
        Assert.Equal(docs.Select(d => d.Text), Assert.Single(batches));

        // The two events that joined the batch handed their copies to the batch's run, which deletes them with itself.
        var runId = Assert.Single(host.Storage.Rows("SELECT id FROM runs"))[0];
        Assert.Equal(3, host.Storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{runId}'"));
    }

    [Fact]
    public async Task LargePayloads_OfTriggerInvokeAndRerun_AreStoredOutOfLine_AndARerunHasItsOwnCopy()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var doc = new Doc("d1", "ann", Text(10));
        await using var host = await StartAsync(
            b => b
                .AddFunction<Doc>("child", null, async ctx => await ctx.Step.Run("len", () => ctx.Event.Data.Text.Length))
                .AddFunction<Doc>("parent", null, async ctx =>
                {
                    var length = await ctx.Step.Invoke<int>("count", "child", ctx.Event.Data);
                    return await ctx.Step.Run("check", () => length == doc.Text.Length && ctx.Event.Data == doc);
                }),
            storage,
            time,
            o => o.HistoryRetention = null);

        var parent = await host.WaitAsync(await host.Client.TriggerAsync("parent", doc));
        Assert.True(parent.GetOutput<bool>());
        var child = Assert.Single((await host.Client.ListRunsAsync(new RunQuery { FunctionId = "child" })).Runs);
        Assert.True(storage.Scalar($"SELECT LENGTH(input) FROM runs WHERE id = '{parent.Id}'") < 300);
        Assert.True(storage.Scalar($"SELECT LENGTH(input) FROM runs WHERE id = '{child.Id}'") < 300);
        Assert.Equal(1, storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{child.Id}'"));

        time.Advance(TimeSpan.FromDays(30));
        var rerun = await host.WaitAsync(await host.Client.RerunFromStepAsync(parent.Id, "check"));
        await using (var purger = storage.Create(time))
        {
            await purger.InitializeAsync(default);
            await purger.Runs.PurgeAsync(time.GetUtcNow() - TimeSpan.FromDays(7), 100, default);
        }

        Assert.Null(await host.Client.GetRunAsync(parent.Id));
        Assert.True(rerun.GetOutput<bool>());
        Assert.Equal(doc, (await host.Client.GetRunAsync(rerun.Id))!.Event.GetProperty("data").Deserialize<Doc>(JsonSerializerOptions.Web));
    }

    [Fact]
    public async Task Payload_ShapedLikeAReference_IsRefused()
    {
        await using var host = await StartAsync(b => b.AddFunction<object>("any", f => f.TriggerOn("x/y"), _ => Task.CompletedTask));
        using var forged = JsonDocument.Parse("""{"\u0001baton-large-value":"someone-elses-value:10"}""");

        var sent = await Assert.ThrowsAsync<InvalidEventException>(() => host.Client.SendAsync(new BatonEvent("x/y", forged.RootElement.Clone())));
        var triggered = await Assert.ThrowsAsync<InvalidEventException>(() => host.Client.TriggerAsync("any", forged.RootElement.Clone()));

        Assert.Contains("reserves", sent.Message, StringComparison.Ordinal);
        Assert.Contains("reserves", triggered.Message, StringComparison.Ordinal);
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM events"));
        Assert.Equal(0, host.Storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    public sealed class OnSqlite : LargeEventTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : LargeEventTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

using System.Net;
using System.Text.Json;
using Baton.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Tests.Http;

/// <summary>
/// The API's reads behind the dashboard, over real HTTP on each provider: what each event did (and why it started no
/// run), run counts by status, queues, what a waiting step waits for, and a function's health.
/// </summary>
public abstract class DashboardQueriesTests
{
    public sealed record Doc(string Title);

    private readonly TaskCompletionSource<string> _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _reported = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected abstract TestStorage NewStorage();

    /// <summary>
    /// <c>greet</c> takes every <c>doc/uploaded</c> (and fails on "fail", which starts <c>greet/on-failure</c>);
    /// <c>picky</c> only those titled "pick", once per title; <c>approve</c> waits for a <c>doc/approved</c> of the same title.
    /// </summary>
    private async Task<(WebApplication App, HttpClient Http, TestStorage Storage)> StartAsync()
    {
        var storage = NewStorage();
        var (app, http) = await BatonWebApp.StartAsync(storage, b =>
        {
            b.AddFunction<Doc>("greet", f =>
            {
                f.TriggerOn("doc/uploaded");
                f.OnFailure = _ => Task.CompletedTask;
            }, async ctx =>
                (object?)await ctx.Step.Run("hello", () => ctx.Event.Data.Title == "fail" ? throw new NonRetriableException("asked to fail") : $"hello {ctx.Event.Data.Title}"));
            b.AddFunction<Doc>("picky", f =>
            {
                f.TriggerOn("doc/uploaded", @if: "event.data.title == 'pick'");
                f.Idempotency = "event.data.title";
            }, async ctx => (object?)await ctx.Step.Run("pick", () => ctx.Event.Data.Title));
            b.AddFunction<Doc>("parent", f => f.TriggerOn("doc/parent"), async ctx =>
                (object?)await ctx.Step.Invoke<string>("child", "picky", new Doc("pick")));
            b.AddFunction<Doc>("reporter", f => f.TriggerOn("doc/report"), async ctx =>
            {
                await ctx.AddTagsAsync("llm", ctx.Event.Data.Title);
                return (object?)await ctx.Step.Run("read-pages", async () =>
                {
                    await ctx.Metadata.SetProgressAsync(0.5, "read 3 of 6 pages");
                    await ctx.Metadata.SetAsync("pages", new { read = 1, total = 6, draft = true });
                    await ctx.Metadata.SetAsync("pages", new { read = 3, total = 6 });
                    await ctx.Metadata.SetAsync("scratch", 1);
                    await ctx.Metadata.RemoveAsync("scratch");
                    _reported.TrySetResult();
                    await ctx.Metadata.Parent.SetAsync("ignored", "no parent");
                    return await _release.Task;
                });
            });
            b.AddFunction<Doc>("report-parent", f => f.TriggerOn("doc/report-parent"), async ctx =>
                (object?)await ctx.Step.Invoke<string>("child", "report-child", new Doc("c")));
            b.AddFunction<Doc>("report-child", null, async ctx => (object?)await ctx.Step.Run("work", async () =>
            {
                await ctx.Metadata.Parent.SetAsync("child", "done");
                await ctx.Metadata.Parent.SetProgressAsync(1, "child finished");
                return "child result";
            }));
            b.AddFunction<Doc>("oversharer", f => f.TriggerOn("doc/overshare"), async ctx => (object?)await ctx.Step.Run("dump", async () =>
            {
                await ctx.Metadata.SetAsync("everything", new string('x', RunMetadata.MaxChars));
                return "unreachable";
            }));
            b.AddFunction<Doc>("approve", f => f.TriggerOn("doc/review"), async ctx =>
                (object?)await ctx.Step.WaitForEvent<JsonElement>("approval", "doc/approved", TimeSpan.FromHours(1), match: "data.title"));
        });
        return (app, http, storage);
    }

    private static async Task<JsonElement> GetAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Fact]
    public async Task Events_SayWhichRunsEachStarted_AndWhyAListeningFunctionStartedNone()
    {
        var (app, http, storage) = await StartAsync();
        await using var _ = app;
        using var __ = storage;
        var client = app.Services.GetRequiredService<IBatonClient>();

        var first = await client.SendAsync(new BatonEvent("doc/uploaded", new Doc("pick")) { Id = "first" });
        var second = await client.SendAsync(new BatonEvent("doc/uploaded", new Doc("pick")) { Id = "second" });
        var third = await client.SendAsync(new BatonEvent("doc/uploaded", new Doc("other")) { Id = "third" });
        Assert.Equal(2, first.RunIds.Count);
        foreach (var runId in first.RunIds.Concat(second.RunIds).Concat(third.RunIds))
        {
            await client.WaitForRunAsync(runId, TestHost.Timeout);
        }

        var events = (await GetAsync(http, "api/v1/events")).GetProperty("events").EnumerateArray().ToDictionary(e => e.GetProperty("id").GetString()!);
        string Runs(string id) => string.Join(",", events[id].GetProperty("runs").EnumerateArray()
            .Select(r => $"{r.GetProperty("functionId").GetString()}:{r.GetProperty("status").GetString()}").Order(StringComparer.Ordinal));
        string Skipped(string id) => string.Join(",", events[id].GetProperty("skipped").EnumerateArray()
            .Select(s => $"{s.GetProperty("functionId").GetString()}:{s.GetProperty("reason").GetString()}"));
        Assert.Equal("greet:completed,picky:completed", Runs("first"));
        Assert.Equal("", Skipped("first"));
        Assert.Equal("greet:completed", Runs("second"));
        Assert.Equal("picky:idempotency", Skipped("second"));
        Assert.Equal("greet:completed", Runs("third"));
        Assert.Equal("picky:filtered", Skipped("third"));

        // The same through the HTTP client and the in-process client.
        var remote = new BatonHttpClient(http);
        foreach (var reader in new IBatonClient[] { client, remote })
        {
            var info = (await reader.GetEventAsync("second"))!;
            Assert.Equal([new SkippedRunInfo("picky", "idempotency")], info.Skipped);
            Assert.Equal(new EventRunInfo(second.RunIds[0], "greet", RunStatus.Completed), Assert.Single(info.Runs));
            Assert.Equal(second.RunIds, info.RunIds);
        }
    }

    [Fact]
    public async Task LargeEvents_AreListedBySize_ReadWholeById_AndAWaitsLargeAnswerIsReadOnRequest()
    {
        var (app, http, storage) = await StartAsync();
        await using var _ = app;
        using var __ = storage;
        var client = app.Services.GetRequiredService<IBatonClient>();
        var remote = new BatonHttpClient(http);
        var body = string.Concat(Enumerable.Range(0, 12_000).Select(i => $"para {i}. "));

        var review = await remote.SendAsync(new BatonEvent("doc/review", new Doc("t1")));
        await TestHost.EventuallyAsync(async () => (await client.GetRunAsync(review.RunIds[0]))!.Status == RunStatus.WaitingForEvent, "the run waits");
        var approved = await remote.SendAsync(new BatonEvent("doc/approved", new { title = "t1", body }));
        await client.WaitForRunAsync(review.RunIds[0], TestHost.Timeout);

        // A list gives the size; the event read by id has its data, over HTTP and through BatonHttpClient.
        var listed = (await GetAsync(http, "api/v1/events?name=doc/approved")).GetProperty("events").EnumerateArray().Single();
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("data").ValueKind);
        var size = listed.GetProperty("dataBytes").GetInt64();
        Assert.True(size > body.Length);
        Assert.Equal(body, (await GetAsync(http, $"api/v1/events/{approved.Ids[0]}")).GetProperty("data").GetProperty("body").GetString());
        var read = (await remote.GetEventAsync(approved.Ids[0]))!;
        Assert.Equal(size, read.DataBytes);
        Assert.Equal(body, read.Data.GetProperty("body").GetString());

        // The wait's result is shown by size, and read on request with the event's data.
        var step = (await GetAsync(http, $"api/v1/runs/{review.RunIds[0]}")).GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "approval");
        Assert.Equal(JsonValueKind.Null, step.GetProperty("output").ValueKind);
        Assert.Equal(size, step.GetProperty("outputBytes").GetInt64());
        var output = await GetAsync(http, $"api/v1/runs/{review.RunIds[0]}/steps/approval/output");
        Assert.Equal(body, output.GetProperty("data").GetProperty("body").GetString());
        Assert.Equal(approved.Ids[0], output.GetProperty("id").GetString());
    }

    [Fact]
    public async Task CountsQueuesWaitsAndHealth_AreReadable_IncludingFunctionIdsWithASlash()
    {
        var (app, http, storage) = await StartAsync();
        await using var _ = app;
        using var __ = storage;
        var client = app.Services.GetRequiredService<IBatonClient>();

        var sent = await client.SendAsync([new BatonEvent("doc/uploaded", new Doc("pick")), new BatonEvent("doc/uploaded", new Doc("fail")), new BatonEvent("doc/uploaded", new Doc("a"))]);
        foreach (var runId in sent.RunIds)
        {
            await client.WaitForRunAsync(runId, TestHost.Timeout);
        }

        var waiting = (await client.SendAsync(new BatonEvent("doc/review", new Doc("contract")))).RunIds[0];
        using (var deadline = new CancellationTokenSource(TestHost.Timeout))
        {
            // The failed greet run starts its failure handler; the review run reaches its wait.
            while ((await client.GetRunAsync(waiting))!.Status != RunStatus.WaitingForEvent
                || (await client.ListRunsAsync(new RunQuery { FunctionId = "greet/on-failure", Status = RunStatus.Completed })).Runs.Count == 0)
            {
                await Task.Delay(10, deadline.Token);
            }
        }

        var counts = await GetAsync(http, "api/v1/runs/counts");
        Assert.Equal(6, counts.GetProperty("total").GetInt64());
        Assert.Equal(4, counts.GetProperty("counts").GetProperty("completed").GetInt64());
        Assert.Equal(1, counts.GetProperty("counts").GetProperty("failed").GetInt64());
        Assert.Equal(1, counts.GetProperty("counts").GetProperty("waiting-for-event").GetInt64());
        Assert.Equal(3, (await GetAsync(http, "api/v1/runs/counts?functionId=greet")).GetProperty("total").GetInt64());

        var remote = new BatonHttpClient(http);
        var expected = new Dictionary<RunStatus, long> { [RunStatus.Completed] = 2, [RunStatus.Failed] = 1 };
        Assert.Equal(expected, await client.CountRunsAsync(new RunQuery { FunctionId = "greet" }));
        Assert.Equal(expected, await remote.CountRunsAsync(new RunQuery { FunctionId = "greet" }));

        // The waiting run sits in the default queue, due later (at its wait's deadline); nothing is ready or running.
        var queue = Assert.Single(await remote.ListQueuesAsync());
        Assert.Equal(new QueueInfo("default", 0, 0, 1, false), queue);
        await client.PauseQueueAsync("imports");
        Assert.Equal(["default", "imports"], (await client.ListQueuesAsync()).Select(q => q.Name));

        var step = (await GetAsync(http, $"api/v1/runs/{waiting}")).GetProperty("steps")[0];
        Assert.Equal("waiting", step.GetProperty("status").GetString());
        Assert.Equal("doc/approved", step.GetProperty("waitingFor").GetProperty("eventName").GetString());
        Assert.Equal("data.title == \"contract\"", step.GetProperty("waitingFor").GetProperty("match").GetString());
        Assert.Equal(new EventWaitInfo("doc/approved", "data.title == \"contract\"", null), (await remote.GetRunAsync(waiting))!.Steps[0].WaitingFor);

        // A function id holding '/' (a failure handler's) is one escaped path segment.
        Assert.Equal("greet/on-failure", (await GetAsync(http, "api/v1/functions/greet%2Fon-failure")).GetProperty("id").GetString());
        Assert.Equal(1, (await GetAsync(http, "api/v1/functions/greet%2Fon-failure/stats")).GetProperty("runs").GetInt32());
        Assert.Equal(1, (await GetAsync(http, "api/v1/functions/picky/stats")).GetProperty("runs").GetInt32());
        var greet = await GetAsync(http, "api/v1/functions/greet/stats?hours=2");
        Assert.Equal(3, greet.GetProperty("runs").GetInt32());
        Assert.Equal(1.0 / 3, greet.GetProperty("failureRate").GetDouble(), 6);
        Assert.True(greet.GetProperty("p95Ms").GetDouble() >= greet.GetProperty("p50Ms").GetDouble());
        Assert.Equal(2, greet.GetProperty("perHour").GetArrayLength());
        Assert.Equal(3, greet.GetProperty("perHour").EnumerateArray().Sum(b => b.GetProperty("runs").GetInt32()));
        Assert.Equal(1, greet.GetProperty("perHour").EnumerateArray().Sum(b => b.GetProperty("failed").GetInt32()));

        // An invoke step names the child run it started.
        var parent = await client.WaitForRunAsync((await client.SendAsync(new BatonEvent("doc/parent", new Doc("p")))).RunIds[0], TestHost.Timeout);
        var child = Assert.Single((await GetAsync(http, $"api/v1/runs/{parent.Id}")).GetProperty("steps")[0].GetProperty("childRunIds").EnumerateArray()).GetString()!;
        Assert.Equal("picky", (await remote.GetRunAsync(child))!.FunctionId);
        Assert.Equal([child], (await remote.GetRunAsync(parent.Id))!.Steps[0].ChildRunIds);

        using var unknown = await http.GetAsync("api/v1/functions/nope/stats");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var badHours = await http.GetAsync("api/v1/functions/greet/stats?hours=1000");
        Assert.Equal(HttpStatusCode.BadRequest, badHours.StatusCode);
        Assert.Contains("1 to 168", await badHours.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProgressMetadataAndTags_SetFromInsideARun_AreVisibleThroughTheApiWhileTheStepRuns()
    {
        var (app, http, storage) = await StartAsync();
        await using var _ = app;
        using var __ = storage;
        var client = app.Services.GetRequiredService<IBatonClient>();

        var runId = (await client.SendAsync(new BatonEvent("doc/report", new Doc("contracts")))).RunIds[0];
        await _reported.Task.WaitAsync(TestHost.Timeout);
        var run = await GetAsync(http, $"api/v1/runs/{runId}");

        // The step has not returned: the run is running, and says how far it got.
        Assert.Equal("running", run.GetProperty("status").GetString());
        Assert.Equal(0.5, run.GetProperty("progress").GetProperty("value").GetDouble());
        Assert.Equal("read 3 of 6 pages", run.GetProperty("progress").GetProperty("message").GetString());
        // A key is replaced whole (no merge of the objects), and a removed key is gone, on both providers alike.
        Assert.Equal("""{"pages":{"read":3,"total":6}}""", JsonSerializer.Serialize(run.GetProperty("metadata")));
        Assert.Equal(["contracts", "llm"], run.GetProperty("tags").EnumerateArray().Select(t => t.GetString()).Order(StringComparer.Ordinal));
        Assert.Equal(runId, (await GetAsync(http, "api/v1/runs?tag=llm")).GetProperty("runs")[0].GetProperty("id").GetString());

        _release.SetResult("done reading");
        var ended = await client.WaitForRunAsync(runId, TestHost.Timeout);
        Assert.Equal(RunStatus.Completed, ended.Status);
        Assert.Equal(new RunProgress(0.5, "read 3 of 6 pages", ended.Progress!.UpdatedAt), ended.Progress);
        var remote = (await new BatonHttpClient(http).GetRunAsync(runId))!;
        Assert.Equal(ended.Progress, remote.Progress);
        Assert.Equal(6, remote.Metadata!.Value.GetProperty("pages").GetProperty("total").GetInt32());

        // A child reports to the run that invoked it.
        var parent = await client.WaitForRunAsync((await client.SendAsync(new BatonEvent("doc/report-parent", new Doc("p")))).RunIds[0], TestHost.Timeout);
        Assert.Equal("done", parent.Metadata!.Value.GetProperty("child").GetString());
        Assert.Equal("child finished", parent.Progress!.Message);

        // Metadata stays small: a value over the limit fails the step at once and changes nothing.
        var overshare = await client.WaitForRunAsync((await client.SendAsync(new BatonEvent("doc/overshare", new Doc("o")))).RunIds[0], TestHost.Timeout);
        Assert.Equal(RunStatus.Failed, overshare.Status);
        Assert.Equal(1, overshare.Steps.Single().Attempts);
        Assert.Contains("would be larger than 65536 characters", overshare.Steps.Single().Error!.Message, StringComparison.Ordinal);
        Assert.Null(overshare.Metadata);
    }

    public sealed class OnSqlite : DashboardQueriesTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : DashboardQueriesTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

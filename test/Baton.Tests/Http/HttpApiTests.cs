using System.Net;
using System.Text;
using System.Text.Json;
using Baton.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Tests.Http;

/// <summary>The HTTP API over real HTTP on loopback (Kestrel on a free port), on each storage provider.</summary>
public abstract class HttpApiTests
{
    public sealed record Doc(string Title, bool Fail = false);

    protected abstract TestStorage NewStorage();

    /// <summary>A web app with Baton's API under /baton and two functions: one that greets, one that waits for an event.</summary>
    private async Task<(WebApplication App, HttpClient Http, TestStorage Storage)> StartAsync()
    {
        var storage = NewStorage();
        var (app, http) = await BatonWebApp.StartAsync(storage, b =>
        {
            b.AddFunction<Doc>("greet", f => f.TriggerOn("doc/uploaded"), async ctx =>
                (object?)await ctx.Step.Run("hello", () => ctx.Event.Data.Fail ? throw new NonRetriableException("asked to fail") : $"hello {ctx.Event.Data.Title}"));
            b.AddFunction<Doc>("approve", null, async ctx =>
                (object?)await ctx.Step.WaitForEvent<JsonElement>("approval", "doc/approved", TimeSpan.FromHours(1)));
        });
        return (app, http, storage);
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {expected}, got {response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts a problem+json answer with the status and a detail that contains <paramref name="says"/>.</summary>
    private static async Task ProblemAsync(HttpResponseMessage response, HttpStatusCode expected, string says)
    {
        var problem = await JsonAsync(response, expected);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(says, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Events_SentOverHttp_StartRunsThatCompleteAndAreListedWithTheirSteps()
    {
        var (app, http, storage) = await StartAsync();
        await using var _ = app;
        using var __ = storage;

        Assert.Equal("healthy", (await JsonAsync(await http.GetAsync("healthz"), HttpStatusCode.OK)).GetProperty("status").GetString());
        var sent = await JsonAsync(await http.PostAsync("api/v1/events", Body("""[{"name":"doc/uploaded","data":{"title":"a"},"id":"e1"},{"name":"doc/uploaded","data":{"title":"b","fail":true}}]""")), HttpStatusCode.Accepted);
        Assert.Equal("e1", sent.GetProperty("ids")[0].GetString());
        var runIds = sent.GetProperty("runIds").EnumerateArray().Select(r => r.GetString()!).ToList();
        Assert.Equal(2, runIds.Count);

        // A repeated id is accepted once: it starts no second run.
        var again = await JsonAsync(await http.PostAsync("api/v1/events", Body("""{"name":"doc/uploaded","data":{"title":"a"},"id":"e1"}""")), HttpStatusCode.Accepted);
        Assert.Empty(again.GetProperty("runIds").EnumerateArray());

        var client = app.Services.GetRequiredService<IBatonClient>();
        foreach (var runId in runIds)
        {
            await client.WaitForRunAsync(runId, TestHost.Timeout);
        }

        var run = await JsonAsync(await http.GetAsync($"api/v1/runs/{runIds[0]}"), HttpStatusCode.OK);
        Assert.Equal(("completed", "hello a", "greet"), (run.GetProperty("status").GetString(), run.GetProperty("output").GetString(), run.GetProperty("functionId").GetString()));
        var step = Assert.Single(run.GetProperty("steps").EnumerateArray());
        Assert.Equal(("hello", "run", "completed", 1), (step.GetProperty("id").GetString(), step.GetProperty("kind").GetString(), step.GetProperty("status").GetString(), step.GetProperty("attempts").GetInt32()));
        var failed = await JsonAsync(await http.GetAsync($"api/v1/runs/{runIds[1]}"), HttpStatusCode.OK);
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.Contains("asked to fail", failed.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        var byEvent = await JsonAsync(await http.GetAsync("api/v1/events/e1"), HttpStatusCode.OK);
        Assert.Equal([runIds[0]], byEvent.GetProperty("runIds").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("a", byEvent.GetProperty("data").GetProperty("title").GetString());

        // Events, newest first, by name, a page at a time.
        await JsonAsync(await http.PostAsync("api/v1/events", Body("""[{"name":"other","id":"o1"},{"name":"other","id":"o2"},{"name":"other","id":"o3"}]""")), HttpStatusCode.Accepted);
        var events = await JsonAsync(await http.GetAsync("api/v1/events?name=other&limit=2"), HttpStatusCode.OK);
        var firstPage = events.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToList();
        var rest = await JsonAsync(await http.GetAsync($"api/v1/events?name=other&limit=2&cursor={events.GetProperty("nextCursor").GetString()}"), HttpStatusCode.OK);
        Assert.Equal(["o1", "o2", "o3"], firstPage.Concat(rest.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetString()!)).Order(StringComparer.Ordinal));
        Assert.Equal(JsonValueKind.Null, rest.GetProperty("nextCursor").ValueKind);
        var all = await JsonAsync(await http.GetAsync("api/v1/events"), HttpStatusCode.OK);
        Assert.Equal(5, all.GetProperty("events").GetArrayLength());
        Assert.Contains(all.GetProperty("events").EnumerateArray(), e => e.GetProperty("id").GetString() == "e1" && e.GetProperty("runIds")[0].GetString() == runIds[0]);

        var failedRuns = await JsonAsync(await http.GetAsync("api/v1/runs?functionId=greet&status=failed"), HttpStatusCode.OK);
        Assert.Equal([runIds[1]], failedRuns.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("id").GetString()));

        var functions = await JsonAsync(await http.GetAsync("api/v1/functions"), HttpStatusCode.OK);
        Assert.Equal(["approve", "greet"], functions.GetProperty("functions").EnumerateArray().Select(f => f.GetProperty("id").GetString()));
        var greet = await JsonAsync(await http.GetAsync("api/v1/functions/greet"), HttpStatusCode.OK);
        Assert.Equal(["doc/uploaded"], greet.GetProperty("triggers").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task Runs_TriggeredWaitedCancelledReplayedAndPagedOverHttp()
    {
        var (app, http, storage) = await StartAsync();
        await using var _ = app;
        using var __ = storage;

        // ?wait answers with the finished run when it ends in time.
        var finished = await JsonAsync(await http.PostAsync("api/v1/functions/greet/runs?wait=20", Body("""{"data":{"title":"now"},"tags":["vip"]}""")), HttpStatusCode.OK);
        Assert.Equal(("completed", "hello now"), (finished.GetProperty("status").GetString(), finished.GetProperty("output").GetString()));
        Assert.Equal(["vip"], finished.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));

        // baton runs show --wait follows a run to its end, then prints its step timeline.
        var followed = (await JsonAsync(await http.PostAsync("api/v1/functions/greet/runs?wait=0", Body("""{"data":{"title":"cli"}}""")), HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;
        var (output, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, await Baton.Cli.BatonCommands.RunAsync(["runs", "show", followed, "--wait", "--url", http.BaseAddress!.ToString()], output, error));
        Assert.Equal("", error.ToString());
        Assert.Contains("completed", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("hello cli", output.ToString(), StringComparison.Ordinal);

        // A waiting run can be cancelled (once), then replayed as a new run.
        var waiting = (await JsonAsync(await http.PostAsync("api/v1/functions/approve/runs", Body("""{"data":{"title":"x"}}""")), HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;
        var client = app.Services.GetRequiredService<IBatonClient>();
        await TestHost.EventuallyAsync(async () => (await client.GetRunAsync(waiting))!.Status == RunStatus.WaitingForEvent, "the run waits for its event");
        var cancelled = await JsonAsync(await http.PostAsync($"api/v1/runs/{waiting}/cancel", null), HttpStatusCode.OK);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        await ProblemAsync(await http.PostAsync($"api/v1/runs/{waiting}/cancel", null), HttpStatusCode.Conflict, "already ended");
        var replay = (await JsonAsync(await http.PostAsync($"api/v1/runs/{waiting}/replay", null), HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;
        Assert.NotEqual(waiting, replay);

        // The same through the CLI: the replay waits for its event, is cancelled, and cancelling again is refused.
        await TestHost.EventuallyAsync(async () => (await client.GetRunAsync(replay))!.Status == RunStatus.WaitingForEvent, "the replay waits");
        (output, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, await Baton.Cli.BatonCommands.RunAsync(["runs", "cancel", replay, "--url", http.BaseAddress!.ToString()], output, error));
        Assert.Contains($"Run {replay} is cancelled", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, await Baton.Cli.BatonCommands.RunAsync(["runs", "cancel", replay, "--url", http.BaseAddress!.ToString()], output, error));
        Assert.Contains("already ended", error.ToString(), StringComparison.Ordinal);
        (output, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, await Baton.Cli.BatonCommands.RunAsync(["runs", "replay", replay, "--url", http.BaseAddress!.ToString()], output, error));
        Assert.Contains("Started run", output.ToString(), StringComparison.Ordinal);

        // Paging: newest first, a cursor per page, no run twice.
        for (var i = 0; i < 5; i++)
        {
            await JsonAsync(await http.PostAsync("api/v1/functions/greet/runs", Body($$$"""{"data":{"title":"p{{{i}}}"}}""")), HttpStatusCode.Accepted);
        }

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await JsonAsync(await http.GetAsync("api/v1/runs?limit=3" + (cursor is null ? "" : $"&cursor={cursor}")), HttpStatusCode.OK);
            seen.AddRange(page.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("id").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(10, seen.Count);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(replay, seen[6]);
        Assert.Equal(followed, seen[8]);
        Assert.Equal(["vip"], await TaggedAsync(http));
    }

    private static async Task<IEnumerable<string?>> TaggedAsync(HttpClient http) =>
        (await JsonAsync(await http.GetAsync("api/v1/runs?tag=vip"), HttpStatusCode.OK)).GetProperty("runs").EnumerateArray().SelectMany(r => r.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));

    [Fact]
    public async Task BadRequests_GetProblemsThatSayWhatWasWrong_AndWriteNothing()
    {
        var (app, http, storage) = await StartAsync();
        await using var _ = app;
        using var __ = storage;

        await ProblemAsync(await http.PostAsync("api/v1/events", Body("{\"name\":")), HttpStatusCode.BadRequest, "not valid JSON");
        await ProblemAsync(await http.PostAsync("api/v1/events", Body("[]")), HttpStatusCode.BadRequest, "empty array");
        await ProblemAsync(await http.PostAsync("api/v1/events", Body("""[{"name":"ok"},{"data":1}]""")), HttpStatusCode.BadRequest, "Event 1 has no \"name\"");
        await ProblemAsync(await http.PostAsync("api/v1/events", Body("""{"name":" padded"}""")), HttpStatusCode.BadRequest, "' padded'");
        await ProblemAsync(await http.PostAsync("api/v1/events", Body("""{"name":"doc/uploaded","ts":"yesterday"}""")), HttpStatusCode.BadRequest, "\"ts\"");
        await ProblemAsync(await http.PostAsync("api/v1/events", new StringContent("name=x", Encoding.UTF8, "text/plain")), HttpStatusCode.UnsupportedMediaType, "application/json");
        await ProblemAsync(await http.PostAsync("api/v1/events", Body($$$"""{"name":"doc/uploaded","data":{"text":"{{{new string('x', 1_100_000)}}}"}}""")), HttpStatusCode.RequestEntityTooLarge, "bytes");
        await ProblemAsync(await http.PostAsync("api/v1/events", Body("""{"name":"doc/uploaded","data":{"\u0001baton-large-value":"guessed-id:10"}}""")), HttpStatusCode.BadRequest, "reserves");
        await ProblemAsync(await http.PostAsync("api/v1/functions/greet/runs", Body("""{"data":{"\u0001baton-large-value":"guessed-id:10"}}""")), HttpStatusCode.BadRequest, "reserves");
        await ProblemAsync(await http.PostAsync("api/v1/functions/nope/runs", Body("{}")), HttpStatusCode.NotFound, "nope");
        await ProblemAsync(await http.PostAsync("api/v1/functions/greet/runs?wait=9999", Body("{}")), HttpStatusCode.BadRequest, "wait=9999");
        await ProblemAsync(await http.PostAsync("api/v1/functions/greet/runs", Body("""{"tags":"vip"}""")), HttpStatusCode.BadRequest, "\"tags\"");
        await ProblemAsync(await http.GetAsync("api/v1/runs/missing"), HttpStatusCode.NotFound, "missing");
        await ProblemAsync(await http.PostAsync("api/v1/runs/missing/cancel", null), HttpStatusCode.NotFound, "missing");
        await ProblemAsync(await http.GetAsync("api/v1/runs?status=sleeping"), HttpStatusCode.BadRequest, "status=sleeping");
        await ProblemAsync(await http.GetAsync("api/v1/runs?cursor=not-a-cursor"), HttpStatusCode.BadRequest, "cursor");
        await ProblemAsync(await http.GetAsync("api/v1/runs?limit=0"), HttpStatusCode.BadRequest, "limit");
        await ProblemAsync(await http.GetAsync("api/v1/runs?from=monday"), HttpStatusCode.BadRequest, "from=monday");
        await ProblemAsync(await http.GetAsync("api/v1/events/missing"), HttpStatusCode.NotFound, "missing");
        await ProblemAsync(await http.GetAsync("api/v1/events?cursor=zzz"), HttpStatusCode.BadRequest, "cursor");
        await ProblemAsync(await http.GetAsync("api/v1/events?limit=5000"), HttpStatusCode.BadRequest, "limit");
        await ProblemAsync(await http.GetAsync("api/v1/functions/missing"), HttpStatusCode.NotFound, "missing");

        Assert.Equal(0, storage.Scalar("SELECT COUNT(*) FROM events"));
        Assert.Equal(0, storage.Scalar("SELECT COUNT(*) FROM runs"));
    }

    [Fact]
    public async Task BatonHttpClient_DoesOverHttpWhatTheInProcessClientDoes()
    {
        var (app, http, storage) = await StartAsync();
        await using var _ = app;
        using var __ = storage;
        IBatonClient remote = new BatonHttpClient(http);

        var sent = await remote.SendAsync(new BatonEvent("doc/uploaded", new Doc("remote")) { Id = "r1" });
        Assert.Equal(["r1"], sent.Ids);
        var run = await remote.WaitForRunAsync(Assert.Single(sent.RunIds), TestHost.Timeout);
        Assert.Equal((RunStatus.Completed, "hello remote"), (run.Status, run.GetOutput<string>()));
        Assert.Equal(("hello", StepKind.Run, StepStatus.Completed), (run.Steps[0].Id, run.Steps[0].Kind, run.Steps[0].Status));
        Assert.Equal([run.Id], (await remote.GetEventAsync("r1"))!.RunIds);

        Assert.Equal("hello direct", await remote.TriggerAndWaitAsync<string>("greet", new Doc("direct"), TestHost.Timeout));
        var failed = await Assert.ThrowsAsync<RunFailedException>(() => remote.TriggerAndWaitAsync<string>("greet", new Doc("bad", Fail: true), TestHost.Timeout));
        Assert.Contains("asked to fail", failed.Run.Error!.Message, StringComparison.Ordinal);
        var batch = await remote.BatchTriggerAsync("greet", [new Doc("b1"), new Doc("b2")]);
        Assert.Equal(["hello b1", "hello b2"], await Task.WhenAll(batch.Select(async id => (await remote.WaitForRunAsync(id, TestHost.Timeout)).GetOutput<string>()!)));
        var rerun = await remote.WaitForRunAsync(await remote.RerunFromStepAsync(run.Id, "hello"), TestHost.Timeout);
        Assert.Equal("hello remote", rerun.GetOutput<string>());

        var waiting = await remote.TriggerAsync("approve", new Doc("w"), new TriggerOptions { IdempotencyKey = "w-1", Tags = { "review" }, Ttl = TimeSpan.FromHours(1), Priority = 30 });
        Assert.Equal(waiting, await remote.TriggerAsync("approve", new Doc("again"), new TriggerOptions { IdempotencyKey = "w-1" }));
        var queued = await remote.TriggerAsync("greet", new Doc("later"), new TriggerOptions { Queue = "paused-pool", Delay = TimeSpan.FromHours(1) });
        Assert.Equal(RunStatus.Queued, (await remote.GetRunAsync(queued))!.Status);
        await TestHost.EventuallyAsync(async () => (await remote.GetRunAsync(waiting))!.Status == RunStatus.WaitingForEvent, "the run waits");
        Assert.True(await remote.CancelAsync(waiting));
        Assert.False(await remote.CancelAsync(waiting));
        Assert.Equal([waiting], (await remote.ListRunsAsync(new RunQuery { Tag = "review" })).Runs.Select(r => r.Id));
        Assert.NotEqual(waiting, await remote.ReplayAsync(waiting));

        await remote.PauseQueueAsync("gpu");
        await remote.ResumeQueueAsync("gpu");
        var schedule = await remote.CreateScheduleAsync("greet", "0 9 * * *", new ScheduleOptions { TimeZone = "Europe/Paris", ExternalId = "u1", DeduplicationKey = "digest-u1" });
        Assert.Equal(schedule.Id, (await remote.CreateScheduleAsync("greet", "0 10 * * *", new ScheduleOptions { DeduplicationKey = "digest-u1" })).Id);
        await remote.PauseScheduleAsync(schedule.Id);
        Assert.True((await remote.GetScheduleAsync(schedule.Id))!.Paused);
        Assert.Equal("30 7 * * *", (await remote.UpdateScheduleAsync(schedule.Id, "30 7 * * *")).Cron);
        Assert.Single(await remote.ListSchedulesAsync("greet"));
        Assert.True(await remote.DeleteScheduleAsync(schedule.Id));
        Assert.Null(await remote.GetScheduleAsync(schedule.Id));

        Assert.Equal(["approve", "greet"], (await remote.ListFunctionsAsync()).Select(f => f.Id));
        Assert.Contains((await remote.ListEventsAsync(limit: 10)).Events, e => e.Id == "r1");

        // Refusals come back as the exceptions the in-process client throws.
        var unknown = await Assert.ThrowsAsync<UnknownFunctionException>(() => remote.TriggerAsync("nope"));
        Assert.Equal("nope", unknown.FunctionId);
        Assert.Equal(["approve", "greet"], unknown.KnownIds);
        Assert.Null(await remote.GetRunAsync("missing"));
        await Assert.ThrowsAsync<PayloadTooLargeException>(() => remote.SendAsync(new BatonEvent("doc/uploaded", new Doc(new string('x', 1_100_000)))));
        await Assert.ThrowsAsync<ArgumentException>(() => remote.ListRunsAsync(new RunQuery { Cursor = "nope" }));
        await Assert.ThrowsAsync<ArgumentException>(() => remote.CreateScheduleAsync("greet", "not cron"));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => remote.UpdateScheduleAsync("missing", "* * * * *"));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => remote.ReplayAsync("missing"));
    }

    public sealed class OnSqlite : HttpApiTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : HttpApiTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using Baton.AspNetCore;
using Baton.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

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
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddBaton(b =>
        {
            storage.Configure(b);
            b.AddFunction<Doc>("greet", f => f.TriggerOn("doc/uploaded"), async ctx =>
                (object?)await ctx.Step.Run("hello", () => ctx.Event.Data.Fail ? throw new NonRetriableException("asked to fail") : $"hello {ctx.Event.Data.Title}"));
            b.AddFunction<Doc>("approve", null, async ctx =>
                (object?)await ctx.Step.WaitForEvent<JsonElement>("approval", "doc/approved", TimeSpan.FromHours(1)));
        });
        var app = builder.Build();
        app.MapGroup("/baton").MapBaton();
        await app.StartAsync();
        var http = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/baton/"), Timeout = TestHost.Timeout };
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

        // A waiting run can be cancelled (once), then replayed as a new run.
        var waiting = (await JsonAsync(await http.PostAsync("api/v1/functions/approve/runs", Body("""{"data":{"title":"x"}}""")), HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;
        var client = app.Services.GetRequiredService<IBatonClient>();
        await TestHost.EventuallyAsync(async () => (await client.GetRunAsync(waiting))!.Status == RunStatus.WaitingForEvent, "the run waits for its event");
        var cancelled = await JsonAsync(await http.PostAsync($"api/v1/runs/{waiting}/cancel", null), HttpStatusCode.OK);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        await ProblemAsync(await http.PostAsync($"api/v1/runs/{waiting}/cancel", null), HttpStatusCode.Conflict, "already ended");
        var replay = (await JsonAsync(await http.PostAsync($"api/v1/runs/{waiting}/replay", null), HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;
        Assert.NotEqual(waiting, replay);

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

        Assert.Equal(8, seen.Count);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(replay, seen[5]);
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

    public sealed class OnSqlite : HttpApiTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : HttpApiTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

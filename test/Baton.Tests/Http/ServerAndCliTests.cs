using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Baton.Cli;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Tests.Http;

/// <summary>The standalone server (<c>baton start</c> / <c>baton dev</c>) and the CLI commands that talk to it, over loopback HTTP.</summary>
public sealed class ServerAndCliTests : IDisposable
{
    private const string ManageKey = "manage-key-0123456789";
    private const string EventsKey = "events-key-0123456789";
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("baton-server-");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Delete(recursive: true);
    }

    private async Task<(WebApplication App, string Url)> StartAsync(ServerSettings settings)
    {
        var app = BatonServer.Build(settings);
        await app.StartAsync();
        return (app, app.Urls.First());
    }

    private static async Task<HttpStatusCode> CallAsync(HttpClient http, HttpMethod method, string path, string? key)
    {
        using var request = new HttpRequestMessage(method, path)
        {
            Content = method == HttpMethod.Post ? new StringContent("""{"name":"app/hello","data":{}}""", Encoding.UTF8, "application/json") : null,
        };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        using var response = await http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        return response.StatusCode;
    }

    [Fact]
    public async Task Start_WithoutAnApiKey_RefusesWithHowToSetOne_AndWritesNothing()
    {
        var database = Path.Combine(_directory.FullName, "server.db");
        var (output, error) = (new StringWriter(), new StringWriter());

        var exit = await BatonCommands.RunAsync(["start", "--sqlite", database, "--bind", "127.0.0.1"], output, error);

        Assert.Equal(2, exit);
        Assert.Contains("--api-key", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("BATON_API_KEYS", error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(database));
    }

    [Fact]
    public async Task Start_WithKeys_EveryCallNeedsAValidKey_AndAnEventsKeyOnlySendsEvents()
    {
        var (app, url) = await StartAsync(new ServerSettings
        {
            Bind = "127.0.0.1",
            Port = 0,
            SqlitePath = Path.Combine(_directory.FullName, "server.db"),
            ApiKeys = [ManageKey, "events:" + EventsKey],
        });
        await using var _ = app;
        using var http = new HttpClient { BaseAddress = new Uri(url + "/") };

        Assert.Equal(HttpStatusCode.OK, await CallAsync(http, HttpMethod.Get, "healthz", null));
        Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(http, HttpMethod.Post, "api/v1/events", null));
        Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(http, HttpMethod.Post, "api/v1/events", ManageKey + "x"));
        Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(http, HttpMethod.Get, "api/v1/runs", "short"));
        Assert.Equal(HttpStatusCode.Accepted, await CallAsync(http, HttpMethod.Post, "api/v1/events", EventsKey));
        Assert.Equal(HttpStatusCode.Forbidden, await CallAsync(http, HttpMethod.Get, "api/v1/runs", EventsKey));
        Assert.Equal(HttpStatusCode.Accepted, await CallAsync(http, HttpMethod.Post, "api/v1/events", ManageKey));
        Assert.Equal(HttpStatusCode.OK, await CallAsync(http, HttpMethod.Get, "api/v1/runs", ManageKey));
        Assert.Equal(HttpStatusCode.OK, await CallAsync(http, HttpMethod.Get, "api/v1/functions", ManageKey));

        // The server's root leads to the dashboard; its page loads without a key and asks for one (its data needs it).
        using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = http.BaseAddress };
        using var root = await noRedirects.GetAsync("");
        Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
        Assert.Equal("/dashboard/", root.Headers.Location?.OriginalString);
        Assert.Contains("dashboard.js", await http.GetStringAsync("dashboard/"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(http, HttpMethod.Get, "api/v1/runs/counts", null));
        Assert.Equal(HttpStatusCode.Forbidden, await CallAsync(http, HttpMethod.Get, "api/v1/queues", EventsKey));
    }

    [Fact]
    public async Task Healthz_StorageGone_Answers503WithTheReason()
    {
        var postgres = await Baton.Tests.Infrastructure.PostgresServer.StartThrowawayAsync();
        var (app, url) = await StartAsync(new ServerSettings { Bind = "127.0.0.1", Port = 0, Postgres = postgres.ConnectionString, Dev = true });
        await using var _ = app;
        using var http = new HttpClient { BaseAddress = new Uri(url + "/") };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("healthz")).StatusCode);

        await postgres.DisposeAsync();

        using var response = await http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Storage unreachable", problem.GetProperty("title").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task Start_Limits_RefuseOversizedRequestsAndTooManyEvents_WithTheLimitInTheProblem()
    {
        var (app, url) = await StartAsync(new ServerSettings
        {
            Bind = "127.0.0.1",
            Port = 0,
            SqlitePath = Path.Combine(_directory.FullName, "limits.db"),
            ApiKeys = [ManageKey],
            MaxRequestBytes = 64 * 1024,
            MaxEventBytes = 1024,
            MaxEventsPerRequest = 3,
        });
        await using var _ = app;
        using var http = new HttpClient { BaseAddress = new Uri(url + "/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ManageKey);

        async Task<string> ProblemAsync(string body, HttpStatusCode expected)
        {
            using var response = await http.PostAsync("api/v1/events", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(expected, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            return System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()!;
        }

        Assert.Contains("65536", await ProblemAsync($$"""{"name":"big","data":"{{new string('x', 70_000)}}"}""", HttpStatusCode.RequestEntityTooLarge), StringComparison.Ordinal);
        Assert.Contains("1,024", await ProblemAsync($$"""{"name":"big","data":"{{new string('x', 2_000)}}"}""", HttpStatusCode.RequestEntityTooLarge), StringComparison.Ordinal);
        Assert.Contains("at most 3", await ProblemAsync("""[{"name":"a"},{"name":"a"},{"name":"a"},{"name":"a"}]""", HttpStatusCode.BadRequest), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_AgainstADevServer_SendsListsAndReportsProblems()
    {
        var (app, url) = await StartAsync(new ServerSettings { Bind = "127.0.0.1", Port = 0, SqlitePath = Path.Combine(_directory.FullName, ".baton", "dev.db"), Dev = true });
        await using var _ = app;

        async Task<(int Exit, string Output, string Error)> Baton(params string[] args)
        {
            var (output, error) = (new StringWriter(), new StringWriter());
            var exit = await BatonCommands.RunAsync([.. args, "--url", url], output, error);
            return (exit, output.ToString(), error.ToString());
        }

        // The OpenAPI document describes every route of the API, and nothing else (not the dashboard's page and sign-in).
        using (var http = new HttpClient())
        {
            var document = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(url + "/openapi/v1.json")).RootElement;
            var documented = document.GetProperty("paths").EnumerateObject()
                .SelectMany(p => p.Value.EnumerateObject().Select(m => $"{m.Name.ToUpperInvariant()} {p.Name}"))
                .Order(StringComparer.Ordinal).ToList();
            var mapped = app.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints
                .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
                .Where(e => !e.RoutePattern.RawText!.StartsWith("/openapi", StringComparison.Ordinal))
                .Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IExcludeFromDescriptionMetadata>()?.ExcludeFromDescription != true)
                .SelectMany(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()!.HttpMethods.Select(m => $"{m} {e.RoutePattern.RawText}"))
                .Order(StringComparer.Ordinal).ToList();
            Assert.Equal(26, mapped.Count);
            Assert.DoesNotContain(documented, path => path.Contains("dashboard", StringComparison.Ordinal));
            Assert.Equal(mapped, documented);
        }

        var sent = await Baton("send", "app/hello", "--data", """{"name":"Ada"}""", "--id", "hello-1");
        Assert.Equal((0, ""), (sent.Exit, sent.Error));
        Assert.Contains("Accepted event hello-1", sent.Output, StringComparison.Ordinal);

        var badJson = await Baton("send", "app/hello", "--data", "{name:");
        Assert.Equal(1, badJson.Exit);
        Assert.Contains("--data is not valid JSON", badJson.Error, StringComparison.Ordinal);

        // A file of events, sent in chunks with progress: a JSON array, or JSON lines.
        var lines = Path.Combine(_directory.FullName, "events.jsonl");
        await File.WriteAllLinesAsync(lines, Enumerable.Range(0, 25).Select(i => $$$"""{"name":"app/bulk","data":{"i":{{{i}}}},"id":"bulk-{{{i}}}"}"""));
        var bulk = await Baton("send", "--file", lines, "--chunk", "10");
        Assert.Equal((0, ""), (bulk.Exit, bulk.Error));
        Assert.Contains("Sent 25 events", bulk.Output, StringComparison.Ordinal);
        Assert.Equal(25, (await new BatonHttpClient(new Uri(url)).ListEventsAsync("app/bulk", limit: 100)).Events.Count);
        var missingFile = await Baton("send", "--file", Path.Combine(_directory.FullName, "none.json"));
        Assert.Equal(1, missingFile.Exit);
        Assert.Contains("does not exist", missingFile.Error, StringComparison.Ordinal);

        var functions = await Baton("functions");
        Assert.Equal(0, functions.Exit);
        Assert.Contains("No functions are registered", functions.Output, StringComparison.Ordinal);
        var failed = await Baton("runs", "list", "--status", "failed");
        Assert.Equal((0, "No runs match." + Environment.NewLine), (failed.Exit, failed.Output));
        var badStatus = await Baton("runs", "list", "--status", "sleeping");
        Assert.Equal(1, badStatus.Exit);
        Assert.Contains("status=sleeping is not a run status", badStatus.Error, StringComparison.Ordinal);
        var missing = await Baton("runs", "show", "nope");
        Assert.Equal(1, missing.Exit);
        Assert.Contains("There is no run with id 'nope'", missing.Error, StringComparison.Ordinal);
    }
}

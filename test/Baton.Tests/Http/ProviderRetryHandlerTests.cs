using System.Collections.Concurrent;
using System.Net;
using Baton.Http;
using Baton.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Http;

/// <summary>The provider-aware retry handler against a local HTTP server that answers like a rate-limited LLM API.</summary>
public sealed class ProviderRetryHandlerTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly ConcurrentDictionary<string, ConcurrentQueue<DateTimeOffset>> _calls = new();
    private WebApplication _server = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _server = builder.Build();
        _server.Use(async (context, next) =>
        {
            _calls.GetOrAdd(context.Request.Path, _ => new()).Enqueue(TimeProvider.System.GetUtcNow());
            await next(context);
        });
        _server.MapGet("/ok", () => "fine");
        _server.MapGet("/limited-seconds", (HttpResponse r) => Answer(r, 429, ("Retry-After", "30")));
        _server.MapGet("/unavailable-date", (HttpResponse r) => Answer(r, 503, ("Retry-After", (Now + TimeSpan.FromMinutes(2)).ToString("R"))));
        _server.MapGet("/overloaded-ms", (HttpResponse r) => Answer(r, 529, ("retry-after-ms", "1500")));
        _server.MapGet("/limited-no-header", (HttpResponse r) => Answer(r, 429));
        _server.MapGet("/server-error", (HttpResponse r) => Answer(r, 500));
        _server.MapGet("/timeout", (HttpResponse r) => Answer(r, 408));
        _server.MapGet("/bad-request", (HttpResponse r) => Answer(r, 400));
        _server.MapGet("/limited-once", (HttpResponse r) => _calls["/limited-once"].Count == 1 ? Answer(r, 429, ("Retry-After", "1")) : Results.Text("after the limit"));
        await _server.StartAsync();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static IResult Answer(HttpResponse response, int status, params (string Name, string Value)[] headers)
    {
        foreach (var (name, value) in headers)
        {
            response.Headers[name] = value;
        }

        return Results.Text("{\"type\":\"error\",\"error\":{\"message\":\"status " + status + " from the test server\"}}", "application/json", statusCode: status);
    }

    private HttpClient Client(TimeProvider time) =>
        new(new ProviderRetryHandler(time) { InnerHandler = new SocketsHttpHandler() }) { BaseAddress = new Uri(_server.Urls.First()) };

    [Fact]
    public async Task Answers_MapToTheRetryTheStatusAndRetryAfterAskFor()
    {
        using var http = Client(new FakeTimeProvider(Now));

        Assert.Equal("fine", await http.GetStringAsync("/ok"));

        var seconds = await Assert.ThrowsAsync<HttpRetryAfterException>(() => http.GetAsync("/limited-seconds"));
        Assert.Equal(Now + TimeSpan.FromSeconds(30), seconds.RetryAt);
        Assert.Equal(HttpStatusCode.TooManyRequests, seconds.StatusCode);
        Assert.Contains("GET " + _server.Urls.First() + "/limited-seconds answered 429", seconds.Message, StringComparison.Ordinal);
        Assert.Contains("status 429 from the test server", seconds.Message, StringComparison.Ordinal);

        Assert.Equal(Now + TimeSpan.FromMinutes(2), (await Assert.ThrowsAsync<HttpRetryAfterException>(() => http.GetAsync("/unavailable-date"))).RetryAt);
        Assert.Equal(Now + TimeSpan.FromMilliseconds(1500), (await Assert.ThrowsAsync<HttpRetryAfterException>(() => http.GetAsync("/overloaded-ms"))).RetryAt);

        // Retriable without a time: the step's own backoff applies.
        foreach (var (path, status) in new[] { ("/limited-no-header", HttpStatusCode.TooManyRequests), ("/server-error", HttpStatusCode.InternalServerError), ("/timeout", HttpStatusCode.RequestTimeout) })
        {
            var retriable = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(path));
            Assert.Equal(status, retriable.StatusCode);
        }

        var refused = await Assert.ThrowsAsync<NonRetriableHttpException>(() => http.GetAsync("/bad-request"));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("answered 400 Bad Request: {\"type\":\"error\"", refused.Message, StringComparison.Ordinal);
        Assert.IsType<NonRetriableHttpException>(await Assert.ThrowsAsync<NonRetriableHttpException>(() => http.GetAsync("/missing")));
    }

    [Fact]
    public async Task InAStep_A429WithRetryAfter_RetriesAtThatTime_AndA400FailsAtOnce()
    {
        using var storage = new SqliteTestStorage();
        var url = _server.Urls.First();
        await using var host = await TestHost.StartAsync(
            b => b
                .AddFunction<object>("call-llm", f => f.Backoff = Backoff.Fixed(TimeSpan.FromMilliseconds(5)), async ctx =>
                    await ctx.Step.Run("complete", async () =>
                    {
                        var http = ctx.Services.GetRequiredService<IHttpClientFactory>().CreateClient("llm");
                        return await http.GetStringAsync(url + "/limited-once");
                    }))
                .AddFunction<object>("bad-call", f => f.Retries = 5, async ctx =>
                    await ctx.Step.Run("complete", async () =>
                    {
                        var http = ctx.Services.GetRequiredService<IHttpClientFactory>().CreateClient("llm");
                        return await http.GetStringAsync(url + "/bad-request");
                    })),
            storage,
            services: s => s.AddHttpClient("llm").AddBatonRetries());

        var run = await host.WaitAsync(await host.Client.TriggerAsync("call-llm"));
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal("after the limit", run.GetOutput<string>());
        Assert.Equal(2, run.Steps.Single().Attempts);

        // The retry came when Retry-After said (one second later), not after the 5 ms backoff.
        var calls = _calls["/limited-once"].ToArray();
        Assert.Equal(2, calls.Length);
        Assert.True(calls[1] - calls[0] >= TimeSpan.FromSeconds(1) - TimeSpan.FromMilliseconds(20), $"the retry came {calls[1] - calls[0]} after the 429");

        var failed = await host.WaitAsync(await host.Client.TriggerAsync("bad-call"));
        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal(1, failed.Steps.Single().Attempts);
        Assert.Equal(typeof(NonRetriableHttpException).FullName, failed.Steps.Single().Error!.Type);
    }
}

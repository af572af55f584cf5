using System.Text.Json;
using Baton.AspNetCore;
using Baton.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace Baton.Dashboard.Tests;

/// <summary>
/// One app with Baton's API and dashboard under <c>/baton</c> (real Kestrel on loopback, a SQLite file) and one headless
/// Chromium, Debian's, driven by Playwright. Shared by the tests of <see cref="DashboardCollection"/>.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _directory = new();
    private IPlaywright? _playwright;

    public sealed record Greeting(string Name);

    public sealed record Review(string Id);

    public WebApplication App { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The dashboard's address: <c>http://127.0.0.1:port/baton/dashboard/</c>.</summary>
    public string DashboardUrl { get; private set; } = null!;

    public IBatonClient Client => App.Services.GetRequiredService<IBatonClient>();

    /// <summary>Where screenshots of the pages go for a person to look at (<c>BATON_SCREENSHOTS</c>, or artifacts/screenshots).</summary>
    public static string ScreenshotDirectory { get; } = FindScreenshotDirectory();

    public async Task InitializeAsync()
    {
        App = await StartAppAsync(_directory.File("baton.db"), keys: null);
        DashboardUrl = App.Urls.First() + "/baton/dashboard/";
        _playwright = await Playwright.CreateAsync();
        Browser = await LaunchAsync(_playwright);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (App is not null)
        {
            await App.DisposeAsync();
        }

        _directory.Dispose();
    }

    /// <summary>A fresh browser page (its own cookies), 1280×900.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout((float)Timeout.TotalMilliseconds);
        return page;
    }

    public static async Task ScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    /// <summary>
    /// An app with five functions: <c>greet</c> (two steps), <c>review</c> (waits for <c>doc/approved</c> of its id),
    /// <c>digest</c> (takes events three at a time), <c>long-answer</c> (a result of ~400 KB, stored out of line, and
    /// progress) and <c>flaky</c> (fails without retrying); with <paramref name="keys"/>, the API and dashboard need one of them.
    /// </summary>
    public static async Task<WebApplication> StartAppAsync(string databasePath, IReadOnlyList<string>? keys)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddBaton(b => b
            .UseSqlite(databasePath)
            .AddFunction<Greeting>("greet", f => f.TriggerOn("demo/greet"), async ctx =>
            {
                var name = await ctx.Step.Run("fetch", () => ctx.Event.Data.Name);
                return (object?)await ctx.Step.Run("shout", () => $"HELLO {name.ToUpperInvariant()}");
            })
            .AddFunction<Review>("review", f => f.TriggerOn("doc/review"), async ctx =>
            {
                await ctx.Step.Run("prepare", () => ctx.Event.Data.Id);
                return (object?)await ctx.Step.WaitForEvent<JsonElement>("approval", "doc/approved", TimeSpan.FromHours(1), match: "data.id");
            })
            .AddFunction<Greeting>("digest", f => f.TriggerOn("demo/digest").BatchEvents(3, TimeSpan.FromMinutes(10)), async ctx =>
                (object?)await ctx.Step.Run("join", () => string.Join(",", ctx.Events.Select(e => e.Data.Name))))
            .AddFunction<Greeting>("long-answer", f => f.TriggerOn("demo/long-answer"), async ctx =>
            {
                var answer = await ctx.Step.Run("generate", async () =>
                {
                    await ctx.Metadata.SetProgressAsync(0.75, "writing the last section");
                    await ctx.Metadata.SetAsync("model", "test-model");
                    return string.Concat(Enumerable.Range(0, 20_000).Select(i => $"line {i} of {ctx.Event.Data.Name}\n"));
                });
                return (object?)answer.Length;
            })
            .AddFunction<Greeting>("flaky", f => f.TriggerOn("demo/flaky"), async ctx =>
                (object?)await ctx.Step.Run("boom", () => ctx.Event.Data.Name == "ok" ? "fine" : throw new NonRetriableException($"cannot greet {ctx.Event.Data.Name}"))));
        if (keys is not null)
        {
            builder.Services.AddBatonApiKeys(o =>
            {
                foreach (var key in keys)
                {
                    o.Keys.Add(BatonApiKeys.Parse(key));
                }
            });
        }

        var app = builder.Build();
        var api = app.MapGroup("/baton").MapBaton();
        if (keys is not null)
        {
            app.UseAuthentication();
            app.UseAuthorization();
            api.RequireAuthorization(BatonApiKeys.Policy);
        }

        await app.StartAsync();
        return app;
    }

    /// <summary>Debian's Chromium (installed by eng/test.sh), or the one <c>BATON_CHROMIUM</c> names.</summary>
    private static async Task<IBrowser> LaunchAsync(IPlaywright playwright)
    {
        var candidates = new[] { Environment.GetEnvironmentVariable("BATON_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" };
        var executable = candidates.FirstOrDefault(c => !string.IsNullOrEmpty(c) && File.Exists(c))
            ?? throw new InvalidOperationException(
                "No Chromium found for the dashboard tests: install Debian's 'chromium' package (eng/test.sh does), or set BATON_CHROMIUM to a Chromium executable.");
        return await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = executable, Headless = true });
    }

    private static string FindScreenshotDirectory()
    {
        var configured = Environment.GetEnvironmentVariable("BATON_SCREENSHOTS");
        var directory = !string.IsNullOrEmpty(configured) ? configured : Path.Combine(RepositoryRoot() ?? Path.GetTempPath(), "artifacts", "screenshots");
        Directory.CreateDirectory(directory);
        return directory;
    }

    private static string? RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Baton.slnx")))
            {
                return directory.FullName;
            }
        }

        return null;
    }
}

[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<DashboardFixture>
{
    public const string Name = "dashboard";
}

using System.Net;
using System.Text;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Baton.Dashboard.Tests;

/// <summary>The dashboard of a server with API keys: same protection as the API, actions only with a management key.</summary>
[Collection(DashboardCollection.Name)]
public sealed class DashboardSignInTests(DashboardFixture fixture)
{
    private const string ManageKey = "manage-key-1";
    private const string EventsKey = "events-key-1";

    [Fact]
    public async Task SignIn_RefusesWrongAndEventsOnlyKeys_AndAManagementKeyOpensThePages()
    {
        using var directory = new TempDirectory();
        await using var app = await DashboardFixture.StartAppAsync(directory.File("baton.db"), [ManageKey, "events:" + EventsKey]);
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(app.Urls.First() + "/baton/dashboard/#/runs");

        var key = page.GetByLabel("API key");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await key.FillAsync("not-a-key");
        await key.PressAsync("Enter");
        await Expect(page.Locator(".signin p")).ToContainTextAsync("not one the server was started with");
        await key.FillAsync(EventsKey);
        await key.PressAsync("Enter");
        await Expect(page.Locator(".signin p")).ToContainTextAsync("may only send events");
        await DashboardFixture.ScreenshotAsync(page, "sign-in");

        await key.FillAsync(ManageKey);
        await key.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Runs" })).ToBeVisibleAsync();
        await Expect(page.Locator("#signout")).ToBeVisibleAsync();

        // The cookie is HttpOnly (no script reads the key) and strict to this site.
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "baton_key");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.Equal("/baton", cookie.Path);
        Assert.Equal("", await page.EvaluateAsync<string>("() => document.cookie"));

        await page.Locator("#signout").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "baton_key");
    }

    [Fact]
    public async Task Cookie_WithoutTheDashboardHeader_CannotChangeAnything()
    {
        using var directory = new TempDirectory();
        await using var app = await DashboardFixture.StartAppAsync(directory.File("baton.db"), [ManageKey]);
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = new Uri(app.Urls.First() + "/baton/") };

        // The page's shell is public (it holds no data); every API call needs the key.
        using var shell = await http.GetAsync("dashboard/");
        Assert.Equal(HttpStatusCode.OK, shell.StatusCode);
        Assert.Contains("script-src 'self'", shell.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        using var anonymous = await http.GetAsync("api/v1/runs");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        HttpRequestMessage Send(HttpMethod method, string path, bool header)
        {
            var request = new HttpRequestMessage(method, path) { Content = method == HttpMethod.Get ? null : new StringContent("""{"name":"demo/greet","data":{"name":"x"}}""", Encoding.UTF8, "application/json") };
            request.Headers.Add("Cookie", $"baton_key={ManageKey}");
            if (header)
            {
                request.Headers.Add("X-Baton-Dashboard", "1");
            }

            return request;
        }

        using (var read = await http.SendAsync(Send(HttpMethod.Get, "api/v1/runs", header: false)))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        // What a cross-site form could send: the cookie without the header. Refused, and nothing was sent.
        using (var forged = await http.SendAsync(Send(HttpMethod.Post, "api/v1/events", header: false)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
            Assert.Contains("X-Baton-Dashboard", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var list = await http.SendAsync(Send(HttpMethod.Get, "api/v1/events", header: false)))
        {
            Assert.Contains("\"events\":[]", await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var sent = await http.SendAsync(Send(HttpMethod.Post, "api/v1/events", header: true));
        Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);

        // Signing in takes JSON and the header: a cross-site form cannot sign a browser in with a key of its choosing.
        using var formSignIn = await http.PostAsync("dashboard/session", new StringContent($$"""{"key":"{{ManageKey}}"}""", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.BadRequest, formSignIn.StatusCode);
        Assert.DoesNotContain("Set-Cookie", formSignIn.Headers.Select(h => h.Key));
    }

    [Fact]
    public async Task CrossSiteRequests_CannotChangeAnything_EvenOnAServerWithoutKeys()
    {
        using var directory = new TempDirectory();
        await using var app = await DashboardFixture.StartAppAsync(directory.File("baton.db"), keys: null);
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/baton/") };

        // What a page of another site can make a browser send to a dev server on loopback (which needs no key).
        async Task<HttpResponseMessage> PostAsync(string header, string value)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/events") { Content = new StringContent("""{"name":"demo/greet","data":{"name":"x"}}""", Encoding.UTF8, "text/plain") };
            request.Headers.Add(header, value);
            return await http.SendAsync(request);
        }

        using (var fromOrigin = await PostAsync("Origin", "https://evil.example"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, fromOrigin.StatusCode);
            Assert.Contains("https://evil.example", await fromOrigin.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var fetchMetadata = await PostAsync("Sec-Fetch-Site", "cross-site"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, fetchMetadata.StatusCode);
        }

        Assert.Empty((await app.Services.GetRequiredService<IBatonClient>().ListEventsAsync()).Events);

        // The dashboard's own calls (same origin) and programs (no Origin) go through.
        using var sameOrigin = new HttpRequestMessage(HttpMethod.Post, "api/v1/events") { Content = new StringContent("""{"name":"demo/greet","data":{"name":"x"}}""", Encoding.UTF8, "application/json") };
        sameOrigin.Headers.Add("Origin", app.Urls.First());
        sameOrigin.Headers.Add("Sec-Fetch-Site", "same-origin");
        Assert.Equal(HttpStatusCode.Accepted, (await http.SendAsync(sameOrigin)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync("api/v1/events", new StringContent("""{"name":"demo/greet"}""", Encoding.UTF8, "application/json"))).StatusCode);
    }
}

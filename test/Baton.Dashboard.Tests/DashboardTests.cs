using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Baton.Dashboard.Tests;

/// <summary>The dashboard in headless Chromium against a real server: what a developer sees and does.</summary>
[Collection(DashboardCollection.Name)]
public sealed class DashboardTests(DashboardFixture fixture)
{
    private static readonly LocatorAssertionsToBeVisibleOptions Soon = new() { Timeout = (float)DashboardFixture.Timeout.TotalMilliseconds };
    private static readonly LocatorAssertionsToHaveTextOptions SoonText = new() { Timeout = (float)DashboardFixture.Timeout.TotalMilliseconds };

    private async Task<IPage> OpenAsync(string route)
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(fixture.DashboardUrl + route);
        return page;
    }

    private async Task<RunInfo> WaitForStatusAsync(string runId, RunStatus status)
    {
        using var timeout = new CancellationTokenSource(DashboardFixture.Timeout);
        while (true)
        {
            var run = await fixture.Client.GetRunAsync(runId, timeout.Token);
            if (run?.Status == status)
            {
                return run;
            }

            await Task.Delay(20, timeout.Token);
        }
    }

    [Fact]
    public async Task RunsPage_ShowsARunLive_WhenAnEventIsSentAfterItOpened()
    {
        var page = await OpenAsync("#/runs");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Runs" })).ToBeVisibleAsync(Soon);
        await Expect(page.Locator("#live")).ToHaveTextAsync("live");

        // Sent after the page loaded: it must appear without a reload, and its status must follow the run.
        var sent = await fixture.Client.SendAsync(new BatonEvent("demo/greet", new { name = "live" }));
        var runId = Assert.Single(sent.RunIds);
        var row = page.Locator($"tr[data-run='{runId}']");
        await Expect(row).ToBeVisibleAsync(Soon);
        await Expect(row.Locator(".badge")).ToHaveTextAsync("completed", SoonText);
        await Expect(row).ToContainTextAsync("greet");
        await Expect(page.Locator("[data-count='completed'] b")).Not.ToHaveTextAsync("0");
        await DashboardFixture.ScreenshotAsync(page, "runs");

        // Filters narrow the list through the URL: only runs of "flaky" (none with this name) are listed.
        await page.Locator("select[name='functionId']").SelectOptionAsync("flaky");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(row).Not.ToBeVisibleAsync();
        Assert.Contains("functionId=flaky", page.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunDetail_ShowsEachStepWithItsOutput_OnTheTimeline()
    {
        var sent = await fixture.Client.SendAsync(new BatonEvent("demo/greet", new { name = "ada" }));
        await fixture.Client.WaitForRunAsync(sent.RunIds[0], DashboardFixture.Timeout);

        var page = await OpenAsync($"#/runs/{sent.RunIds[0]}");
        var steps = page.Locator(".waterfall details.step");
        await Expect(steps).ToHaveCountAsync(2);
        await Expect(steps.Nth(0)).ToContainTextAsync("fetch");
        await Expect(steps.Nth(1)).ToContainTextAsync("shout");
        await Expect(page.Locator("h1 .badge")).ToHaveTextAsync("completed");

        await steps.Nth(1).Locator("summary").ClickAsync();
        await Expect(steps.Nth(1).Locator("pre.json")).ToHaveTextAsync("\"HELLO ADA\"");
        await Expect(page.GetByLabel("Run output")).ToHaveTextAsync("\"HELLO ADA\"");
        await Expect(page.GetByLabel("Triggering event")).ToContainTextAsync("\"name\": \"ada\"");
        await DashboardFixture.ScreenshotAsync(page, "run-detail");
    }

    [Fact]
    public async Task RunDetail_OfABatch_ShowsEveryTriggeringEvent_AndEventsSayTheyJoinedIt()
    {
        var tag = Guid.NewGuid().ToString("N")[..6];
        var sent = await fixture.Client.SendAsync([.. new[] { "a", "b", "c" }.Select(n => new BatonEvent("demo/digest", new { name = $"{n}-{tag}" }))]);
        var runId = Assert.Single(sent.RunIds.Distinct());
        var run = await fixture.Client.WaitForRunAsync(runId, DashboardFixture.Timeout);
        Assert.Equal($"a-{tag},b-{tag},c-{tag}", run.GetOutput<string>());

        var page = await OpenAsync($"#/runs/{runId}");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Triggering events (3, a batch)" })).ToBeVisibleAsync(Soon);
        await Expect(page.GetByLabel("Triggering event 3")).ToContainTextAsync($"c-{tag}");

        await page.GotoAsync(fixture.DashboardUrl + "#/events?name=demo%2Fdigest");
        await Expect(page.Locator($"tr[data-event='{sent.Ids[2]}'] [data-skipped='batched']")).ToContainTextAsync("digest: no run (batched)");
        await Expect(page.Locator($"tr[data-event='{sent.Ids[0]}'] a[href='#/runs/{runId}']")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task RunDetail_ShowsProgressAndMetadata_AndLoadsALargeResultOnlyWhenAsked()
    {
        var sent = await fixture.Client.SendAsync(new BatonEvent("demo/long-answer", new { name = "essay" }));
        await fixture.Client.WaitForRunAsync(sent.RunIds[0], DashboardFixture.Timeout);

        var page = await OpenAsync($"#/runs/{sent.RunIds[0]}");
        await Expect(page.Locator("[data-progress]")).ToContainTextAsync("75% · writing the last section");
        await Expect(page.GetByLabel("Run metadata")).ToContainTextAsync("\"model\": \"test-model\"");

        var step = page.Locator("details[data-step='generate']");
        await step.Locator("summary").ClickAsync();
        var load = step.Locator("[data-action='load-output']");
        await Expect(load).ToContainTextAsync("stored out of line");
        await Expect(step.Locator("pre.json")).ToHaveCountAsync(0);
        await load.ClickAsync();
        await Expect(step.GetByLabel("Output of generate")).ToContainTextAsync("line 0 of essay");
        await Expect(step.GetByRole(AriaRole.Button, new() { Name = "Show all" })).ToBeVisibleAsync();
        await DashboardFixture.ScreenshotAsync(page, "run-large-output");
    }

    [Fact]
    public async Task LargeEvent_IsListedByItsSize_AndItsPageAndRunShowTheWholePayload()
    {
        var name = "chapter one. " + string.Concat(Enumerable.Range(0, 8_000).Select(i => $"line {i} "));
        var sent = await fixture.Client.SendAsync(new BatonEvent("demo/greet", new { name }));
        await fixture.Client.WaitForRunAsync(sent.RunIds[0], DashboardFixture.Timeout);

        var page = await OpenAsync("#/events");
        var row = page.Locator($"tr[data-event='{sent.Ids[0]}']");
        await Expect(row.Locator("[data-large]")).ToContainTextAsync("stored out of line");
        await Expect(row).Not.ToContainTextAsync("chapter one");

        await row.Locator("a").First.ClickAsync();
        await Expect(page.GetByLabel("Event payload")).ToContainTextAsync("chapter one. line 0 line 1");
        await DashboardFixture.ScreenshotAsync(page, "event-large-payload");

        await page.GotoAsync(fixture.DashboardUrl + $"#/runs/{sent.RunIds[0]}");
        await Expect(page.GetByLabel("Triggering event")).ToContainTextAsync("chapter one. line 0 line 1");
    }

    [Fact]
    public async Task CancelButton_CancelsAWaitingRun_AndTheRunIsCancelledInStorage()
    {
        var sent = await fixture.Client.SendAsync(new BatonEvent("doc/review", new { id = Guid.NewGuid().ToString("N") }));
        var runId = sent.RunIds[0];
        await WaitForStatusAsync(runId, RunStatus.WaitingForEvent);

        var page = await OpenAsync($"#/runs/{runId}");
        await Expect(page.Locator("details[data-step='approval']")).ToContainTextAsync("for doc/approved");
        await page.Locator("details[data-step='approval'] summary").ClickAsync();
        await Expect(page.Locator("details[data-step='approval']")).ToContainTextAsync("Waiting for event doc/approved where data.id ==");
        await DashboardFixture.ScreenshotAsync(page, "run-waiting");

        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.Locator("[data-action='cancel']").ClickAsync();
        await Expect(page.Locator("h1 .badge")).ToHaveTextAsync("cancelled", SoonText);
        await Expect(page.Locator("[data-action='cancel']")).ToHaveCountAsync(0);
        Assert.Equal(RunStatus.Cancelled, (await fixture.Client.GetRunAsync(runId))!.Status);
    }

    [Fact]
    public async Task ReplayButton_OnAFailedRun_StartsANewRunWithTheSameInput()
    {
        var sent = await fixture.Client.SendAsync(new BatonEvent("demo/flaky", new { name = "bob" }));
        var failed = await fixture.Client.WaitForRunAsync(sent.RunIds[0], DashboardFixture.Timeout);
        Assert.Equal(RunStatus.Failed, failed.Status);

        var page = await OpenAsync($"#/runs/{failed.Id}");
        await Expect(page.Locator(".error-box").First).ToContainTextAsync("cannot greet bob");
        await DashboardFixture.ScreenshotAsync(page, "run-failed");
        await page.Locator("[data-action='replay']").ClickAsync();

        await page.WaitForFunctionAsync($"() => location.hash.startsWith('#/runs/') && !location.hash.includes('{failed.Id}')");
        var replayId = page.Url[(page.Url.LastIndexOf('/') + 1)..];
        var replay = await fixture.Client.WaitForRunAsync(replayId, DashboardFixture.Timeout);
        Assert.Equal("flaky", replay.FunctionId);
        Assert.Equal("bob", replay.Event.GetProperty("data").GetProperty("name").GetString());
        await Expect(page.Locator("h1 .badge")).ToHaveTextAsync("failed", SoonText);
    }

    [Fact]
    public async Task SendEventForm_SendsTheEvent_AndListsTheRunItStarted()
    {
        var name = "form-" + Guid.NewGuid().ToString("N")[..8];
        var page = await OpenAsync("#/events");
        await page.GetByText("Send an event").ClickAsync();
        await page.GetByLabel("Event name").FillAsync("demo/greet");
        await page.GetByLabel("Event data (JSON)").FillAsync($$"""{"name": "{{name}}"}""");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send event" }).ClickAsync();
        await Expect(page.Locator("#toast")).ToContainTextAsync("started 1 run");

        var row = page.Locator("tr[data-event]", new() { HasText = name });
        await Expect(row).ToBeVisibleAsync(Soon);
        await Expect(row).ToContainTextAsync("greet");
        var stored = (await fixture.Client.ListEventsAsync("demo/greet", limit: 100)).Events.Single(e => e.DataBytes is null && e.Data.GetProperty("name").GetString() == name);
        var runId = Assert.Single(stored.RunIds);
        await Expect(row.Locator($"a[href='#/runs/{runId}']")).ToBeVisibleAsync();

        // Bad JSON is refused in the page, and nothing is sent.
        var before = (await fixture.Client.ListEventsAsync("demo/greet", limit: 1000)).Events.Count;
        await page.GetByLabel("Event data (JSON)").FillAsync("{not json");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send event" }).ClickAsync();
        await Expect(page.Locator("#toast .msg.bad")).ToContainTextAsync("not valid JSON");
        Assert.Equal(before, (await fixture.Client.ListEventsAsync("demo/greet", limit: 1000)).Events.Count);
        await DashboardFixture.ScreenshotAsync(page, "events");
    }

    [Fact]
    public async Task PayloadWithMarkup_IsShownAsText_AndNeverRuns()
    {
        const string hostile = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">";
        var sent = await fixture.Client.SendAsync(new BatonEvent("demo/flaky", new { name = hostile }));
        await fixture.Client.WaitForRunAsync(sent.RunIds[0], DashboardFixture.Timeout);

        var page = await OpenAsync("#/events");
        var row = page.Locator($"tr[data-event='{sent.Ids[0]}']");
        await Expect(row).ToContainTextAsync("<script>window.__pwned = 1</script>");

        await page.GotoAsync(fixture.DashboardUrl + $"#/runs/{sent.RunIds[0]}");
        await Expect(page.GetByLabel("Triggering event")).ToContainTextAsync("<img src=x onerror=");
        await Expect(page.Locator(".error-box").First).ToContainTextAsync("<script>");

        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined"));
        Assert.Equal(0, await page.Locator("main script, main img").CountAsync());
    }

    [Fact]
    public async Task FunctionsPage_ShowsHealth_AndItsFormTriggersARun()
    {
        var sent = await fixture.Client.SendAsync(new BatonEvent("demo/greet", new { name = "health" }));
        await fixture.Client.WaitForRunAsync(sent.RunIds[0], DashboardFixture.Timeout);

        var page = await OpenAsync("#/functions");
        var card = page.Locator("[data-function='greet']");
        await Expect(card).ToContainTextAsync("runs / 24 h");
        await Expect(card.Locator("svg.spark rect.ok")).Not.ToHaveCountAsync(0);
        await Expect(page.Locator("[data-function='review']")).ToContainTextAsync("doc/review");
        await DashboardFixture.ScreenshotAsync(page, "functions");

        await card.GetByRole(AriaRole.Link, new() { Name = "greet" }).ClickAsync();
        await page.GetByLabel("Payload (JSON)").FillAsync("""{"name": "from-form"}""");
        await page.GetByLabel("Tags").FillAsync("dashboard, manual");
        await page.GetByRole(AriaRole.Button, new() { Name = "Trigger" }).ClickAsync();
        await page.WaitForFunctionAsync("() => location.hash.startsWith('#/runs/')");
        var run = await fixture.Client.WaitForRunAsync(page.Url[(page.Url.LastIndexOf('/') + 1)..], DashboardFixture.Timeout);
        Assert.Equal("HELLO FROM-FORM", run.GetOutput<string>());
        Assert.Equal(["dashboard", "manual"], run.Tags);
        await Expect(page.Locator("h1 .badge")).ToHaveTextAsync("completed", SoonText);
    }

    [Fact]
    public async Task SchedulesAndQueuesPages_ListAndPause()
    {
        var schedule = await fixture.Client.CreateScheduleAsync("greet", "0 3 * * *", new ScheduleOptions { ExternalId = "nightly-" + Guid.NewGuid().ToString("N")[..6] });
        try
        {
            var page = await OpenAsync("#/schedules");
            var row = page.Locator($"tr[data-schedule='{schedule.Id}']");
            await Expect(row).ToContainTextAsync("0 3 * * *");
            await row.GetByRole(AriaRole.Button, new() { Name = "Pause" }).ClickAsync();
            await Expect(row).ToContainTextAsync("paused");
            Assert.True((await fixture.Client.GetScheduleAsync(schedule.Id))!.Paused);
            await DashboardFixture.ScreenshotAsync(page, "schedules");

            await fixture.Client.PauseQueueAsync("imports");
            await page.Keyboard.PressAsync("q");
            var queue = page.Locator("tr[data-queue='imports']");
            await Expect(queue).ToContainTextAsync("paused");
            await queue.GetByRole(AriaRole.Button, new() { Name = "Resume" }).ClickAsync();
            await Expect(queue).ToHaveCountAsync(0);
            Assert.DoesNotContain("imports", (await fixture.Client.ListQueuesAsync()).Select(q => q.Name));
            await DashboardFixture.ScreenshotAsync(page, "queues");
        }
        finally
        {
            await fixture.Client.DeleteScheduleAsync(schedule.Id);
        }
    }

    [Fact]
    public async Task Keys_Navigate_AndTheThemeToggles_BetweenLightAndDark()
    {
        var page = await OpenAsync("#/runs");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Runs" })).ToBeVisibleAsync(Soon);
        await page.Keyboard.PressAsync("e");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Events" })).ToBeVisibleAsync(Soon);
        await page.Keyboard.PressAsync("/");
        Assert.Equal("name", await page.EvaluateAsync<string>("() => document.activeElement.name"));
        await page.Keyboard.PressAsync("Escape");

        var before = await page.EvaluateAsync<string>("() => getComputedStyle(document.body).backgroundColor");
        await page.Keyboard.PressAsync("r");
        await page.Keyboard.PressAsync("t");
        var theme = await page.EvaluateAsync<string>("() => document.documentElement.dataset.theme");
        Assert.Contains(theme, new[] { "light", "dark" });
        Assert.NotEqual(before, await page.EvaluateAsync<string>("() => getComputedStyle(document.body).backgroundColor"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Runs" })).ToBeVisibleAsync(Soon);
        await DashboardFixture.ScreenshotAsync(page, $"runs-{theme}");
    }
}

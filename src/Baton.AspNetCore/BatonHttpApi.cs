using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Baton.AspNetCore;

/// <summary>
/// Baton's HTTP API: events, functions and runs under <c>/api/v1</c>, and <c>/healthz</c>. JSON is camelCase; every
/// error is <c>application/problem+json</c> with a detail that says what was wrong.
/// </summary>
public static partial class BatonHttpApi
{
    /// <summary>The most a <c>?wait=</c> may wait, in seconds.</summary>
    public const int MaxWaitSeconds = 300;

    /// <summary>
    /// Maps the API into an empty route group and returns it, so the host picks the prefix and the authorization
    /// (<c>app.MapGroup("/baton").MapBaton().RequireAuthorization()</c>).
    /// </summary>
    public static RouteGroupBuilder MapBaton(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var group = endpoints.MapGroup("");
        group.AddEndpointFilter(ProblemsFilter);
        group.AddEndpointFilter(UnescapedSlashesFilter);
        group.AddEndpointFilter(CrossSiteFilter);
        group.MapGet("/healthz", HealthAsync).AllowAnonymous();

        var api = group.MapGroup("/api/v1");
        api.MapPost("/events", SendEventsAsync).WithMetadata(new BatonScopeMetadata(BatonKeyScope.Events));
        api.MapGet("/events", ListEventsAsync);
        api.MapGet("/events/{id}", GetEventAsync);
        api.MapGet("/functions", ListFunctionsAsync);
        api.MapGet("/functions/{id}", GetFunctionAsync);
        api.MapGet("/functions/{id}/stats", FunctionStatsAsync);
        api.MapPost("/functions/{id}/runs", TriggerAsync);
        api.MapPost("/functions/{id}/runs/batch", BatchTriggerAsync);
        api.MapGet("/runs", ListRunsAsync);
        api.MapGet("/runs/counts", CountRunsAsync);
        api.MapGet("/runs/{id}", GetRunAsync);
        api.MapGet("/runs/{id}/steps/{stepId}/output", GetStepOutputAsync);
        api.MapPost("/runs/{id}/cancel", CancelAsync);
        api.MapPost("/runs/{id}/replay", ReplayAsync);
        api.MapPost("/runs/{id}/rerun", RerunAsync);
        api.MapGet("/queues", async (IBatonClient client, CancellationToken ct) => Results.Json(new
        {
            queues = (await client.ListQueuesAsync(ct).ConfigureAwait(false)).Select(q => new { name = q.Name, ready = q.Ready, running = q.Running, later = q.Later, paused = q.Paused }),
        }));
        api.MapPost("/queues/{name}/pause", (string name, IBatonClient client, CancellationToken ct) => PauseQueueAsync(name, true, client, ct));
        api.MapPost("/queues/{name}/resume", (string name, IBatonClient client, CancellationToken ct) => PauseQueueAsync(name, false, client, ct));
        api.MapPost("/schedules", CreateScheduleAsync);
        api.MapGet("/schedules", ListSchedulesAsync);
        api.MapGet("/schedules/{id}", GetScheduleAsync);
        api.MapPut("/schedules/{id}", UpdateScheduleAsync);
        api.MapPost("/schedules/{id}/pause", (string id, IBatonClient client, CancellationToken ct) => PauseScheduleAsync(id, true, client, ct));
        api.MapPost("/schedules/{id}/resume", (string id, IBatonClient client, CancellationToken ct) => PauseScheduleAsync(id, false, client, ct));
        api.MapDelete("/schedules/{id}", DeleteScheduleAsync);
        group.MapDashboard();
        return group;
    }

    private static async Task<IResult> HealthAsync(IBatonClient client, CancellationToken cancellationToken)
    {
        try
        {
            await client.ListFunctionsAsync(cancellationToken).ConfigureAwait(false);
            return Results.Ok(new { status = "healthy" });
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unreachable", detail: ex.Message);
        }
    }

    private static async Task<IResult> SendEventsAsync(HttpRequest request, IBatonClient client, IOptions<BatonOptions> options, CancellationToken cancellationToken)
    {
        using var body = await ReadJsonAsync(request, cancellationToken).ConfigureAwait(false);
        var root = body.RootElement;
        var items = root.ValueKind == JsonValueKind.Array ? [.. root.EnumerateArray()] : new[] { root };
        if (items.Length == 0)
        {
            throw new BadRequestException("The body is an empty array; send one event {name, data, id?, ts?} or an array of them.");
        }

        if (items.Length > options.Value.MaxBatchSize)
        {
            throw new BadRequestException($"The body holds {items.Length} events; at most {options.Value.MaxBatchSize} are accepted per request.");
        }

        var events = items.Select((item, i) => ToEvent(item, items.Length == 1 ? "the event" : $"event {i}")).ToList();
        var sent = await client.SendAsync(events, cancellationToken).ConfigureAwait(false);
        return Results.Json(new { ids = sent.Ids, runIds = sent.RunIds }, statusCode: StatusCodes.Status202Accepted);
    }

    private static BatonEvent ToEvent(JsonElement item, string what)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw new BadRequestException($"{Capitalized(what)} is a JSON {item.ValueKind.ToString().ToLowerInvariant()}; send an object {{name, data, id?, ts?}}.");
        }

        if (!item.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            throw new BadRequestException($"{Capitalized(what)} has no \"name\" string.");
        }

        string? id = null;
        if (item.TryGetProperty("id", out var idElement) && idElement.ValueKind != JsonValueKind.Null)
        {
            id = idElement.ValueKind == JsonValueKind.String && idElement.GetString() is { Length: > 0 and <= 256 } text
                ? text
                : throw new BadRequestException($"{Capitalized(what)} has an \"id\" that is not a string of 1 to 256 characters.");
        }

        DateTimeOffset? timestamp = null;
        if (item.TryGetProperty("ts", out var ts) && ts.ValueKind != JsonValueKind.Null)
        {
            timestamp = ts.ValueKind == JsonValueKind.Number && ts.TryGetInt64(out var ms) && ms is >= 0 and <= 253402300799999
                ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
                : throw new BadRequestException($"{Capitalized(what)} has a \"ts\" that is not milliseconds since 1970 (a non-negative integer).");
        }

        var data = item.TryGetProperty("data", out var d) && d.ValueKind != JsonValueKind.Null ? d.Clone() : (JsonElement?)null;
        return new BatonEvent(name.GetString()!, data) { Id = id, Timestamp = timestamp };
    }

    private static async Task<IResult> GetEventAsync(string id, IBatonClient client, CancellationToken cancellationToken) =>
        await client.GetEventAsync(id, cancellationToken).ConfigureAwait(false) is { } e
            ? Results.Json(EventJson(e))
            : NotFound($"There is no event with id '{id}'.");

    private static async Task<IResult> ListEventsAsync(HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        var page = await client.ListEventsAsync(
            QueryText(request, "name"), QueryNumber(request, "limit", 50), QueryText(request, "cursor"), cancellationToken).ConfigureAwait(false);
        return Results.Json(new { events = page.Events.Select(EventJson), nextCursor = page.NextCursor });
    }

    private static object EventJson(EventInfo e) =>
        new
        {
            id = e.Id,
            name = e.Name,
            data = e.Data,
            dataBytes = e.DataBytes,
            ts = e.Timestamp.ToUnixTimeMilliseconds(),
            receivedAt = e.ReceivedAt,
            runIds = e.RunIds,
            runs = e.Runs.Select(r => new { id = r.RunId, functionId = r.FunctionId, status = r.Status.ToWireName() }),
            skipped = e.Skipped.Select(k => new { functionId = k.FunctionId, reason = k.Reason }),
        };

    private static async Task<IResult> ListFunctionsAsync(IBatonClient client, CancellationToken cancellationToken) =>
        Results.Json(new { functions = (await client.ListFunctionsAsync(cancellationToken).ConfigureAwait(false)).Select(FunctionJson) });

    private static async Task<IResult> GetFunctionAsync(string id, IBatonClient client, CancellationToken cancellationToken) =>
        (await client.ListFunctionsAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(f => f.Id == id) is { } function
            ? Results.Json(FunctionJson(function))
            : NotFound($"There is no function with id '{id}'.");

    private static object FunctionJson(FunctionInfo f) => new { id = f.Id, triggers = f.Triggers, definition = f.Definition, updatedAt = f.UpdatedAt };

    private static async Task<IResult> TriggerAsync(string id, HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        var wait = WaitSeconds(request);

        JsonElement? data = null;
        var options = new TriggerOptions();
        if (request.ContentLength is not 0)
        {
            using var body = await ReadJsonAsync(request, cancellationToken).ConfigureAwait(false);
            var root = body.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new BadRequestException("The body must be an object {data?, idempotencyKey?, delay?, tags?}.");
            }

            data = root.TryGetProperty("data", out var d) && d.ValueKind != JsonValueKind.Null ? d.Clone() : null;
            options = new TriggerOptions
            {
                IdempotencyKey = OptionalString(root, "idempotencyKey"),
                Delay = OptionalSeconds(root, "delay"),
                Ttl = OptionalSeconds(root, "ttl"),
                Priority = root.TryGetProperty("priority", out var priority) && priority.ValueKind != JsonValueKind.Null
                    ? priority.ValueKind == JsonValueKind.Number && priority.TryGetInt32(out var seconds) ? seconds : throw new BadRequestException("\"priority\" must be a whole number of seconds.")
                    : null,
                Queue = OptionalString(root, "queue"),
            };
            if (OptionalSeconds(root, "idempotencyWindow") is { } window)
            {
                options.IdempotencyWindow = window;
            }

            if (root.TryGetProperty("tags", out var tags) && tags.ValueKind != JsonValueKind.Null)
            {
                foreach (var tag in tags.ValueKind == JsonValueKind.Array && tags.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String)
                    ? tags.EnumerateArray()
                    : throw new BadRequestException("\"tags\" must be an array of strings."))
                {
                    options.Tags.Add(tag.GetString()!);
                }
            }
        }

        var runId = await client.TriggerAsync(id, data, options, cancellationToken).ConfigureAwait(false);
        if (wait > 0)
        {
            var run = await client.WaitForRunAsync(runId, TimeSpan.FromSeconds(wait), cancellationToken).ConfigureAwait(false);
            if (run.Status.IsTerminal())
            {
                return Results.Json(RunJson(run), statusCode: StatusCodes.Status200OK);
            }
        }

        return Results.Json(new { runId }, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListRunsAsync(HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        var page = await client.ListRunsAsync(ReadRunQuery(request), cancellationToken).ConfigureAwait(false);
        return Results.Json(new { runs = page.Runs.Select(RunJson), nextCursor = page.NextCursor });
    }

    /// <remarks>Counts per status of the runs <c>GET /runs</c> would list with the same filters (but status).</remarks>
    private static async Task<IResult> CountRunsAsync(HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        var counts = await client.CountRunsAsync(ReadRunQuery(request), cancellationToken).ConfigureAwait(false);
        return Results.Json(new
        {
            counts = Enum.GetValues<RunStatus>().ToDictionary(s => s.ToWireName(), s => counts.GetValueOrDefault(s)),
            total = counts.Values.Sum(),
        });
    }

    private static RunQuery ReadRunQuery(HttpRequest request)
    {
        string? Text(string name) => QueryText(request, name);
        DateTimeOffset? Time(string name) => Text(name) is { } value
            ? DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
                ? time
                : throw new BadRequestException($"{name}={value} is not a date and time (ISO 8601, such as 2026-01-31T12:00:00Z).")
            : null;

        RunStatus? status = null;
        if (Text("status") is { } statusText)
        {
            try
            {
                status = RunStatusExtensions.FromWireName(statusText);
            }
            catch (ArgumentException)
            {
                throw new BadRequestException($"status={statusText} is not a run status; use one of {string.Join(", ", Enum.GetValues<RunStatus>().Select(s => s.ToWireName()))}.");
            }
        }

        return new RunQuery
        {
            FunctionId = Text("functionId"),
            Status = status,
            Tag = Text("tag"),
            EventId = Text("eventId"),
            From = Time("from"),
            To = Time("to"),
            Limit = QueryNumber(request, "limit", 50),
            Cursor = Text("cursor"),
        };
    }

    /// <remarks><c>?wait=&lt;seconds&gt;</c> answers as soon as the run has ended, or with its state when the time is up.</remarks>
    private static async Task<IResult> GetRunAsync(string id, HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        var wait = WaitSeconds(request);
        if (wait > 0)
        {
            return Results.Json(RunJson(await client.WaitForRunAsync(id, TimeSpan.FromSeconds(wait), cancellationToken).ConfigureAwait(false)));
        }

        return await client.GetRunAsync(id, cancellationToken).ConfigureAwait(false) is { } run
            ? Results.Json(RunJson(run))
            : NotFound($"There is no run with id '{id}'.");
    }

    /// <summary>A step's whole result as JSON, also when it is stored out of line (the run's JSON gives only its size then).</summary>
    private static async Task<IResult> GetStepOutputAsync(string id, string stepId, IBatonClient client, CancellationToken cancellationToken) =>
        await client.GetStepOutputAsync(id, stepId, cancellationToken).ConfigureAwait(false) is { } value
            ? Results.Json(value)
            : Results.Json((object?)null);

    /// <summary>The <c>?wait=</c> seconds (0 when absent: answer at once).</summary>
    private static int WaitSeconds(HttpRequest request) =>
        QueryNumber(request, "wait", 0, seconds => seconds <= MaxWaitSeconds, $"a number of seconds from 0 to {MaxWaitSeconds}");

    private static async Task<IResult> BatchTriggerAsync(string id, HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        using var body = await ReadJsonAsync(request, cancellationToken).ConfigureAwait(false);
        if (body.RootElement.ValueKind != JsonValueKind.Object || !body.RootElement.TryGetProperty("items", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            throw new BadRequestException("The body must be an object {items: [data, ...]}, one payload per run.");
        }

        var runIds = await client.BatchTriggerAsync(id, [.. items.EnumerateArray().Select(i => (object?)i.Clone())], cancellationToken).ConfigureAwait(false);
        return Results.Json(new { runIds }, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> RerunAsync(string id, HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        using var body = await ReadJsonAsync(request, cancellationToken).ConfigureAwait(false);
        var stepId = body.RootElement.ValueKind == JsonValueKind.Object ? OptionalString(body.RootElement, "stepId") : null;
        return stepId is null
            ? throw new BadRequestException("The body must be an object {stepId}: the step to run again from.")
            : Results.Json(new { runId = await client.RerunFromStepAsync(id, stepId, cancellationToken).ConfigureAwait(false) }, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> PauseQueueAsync(string name, bool paused, IBatonClient client, CancellationToken cancellationToken)
    {
        await (paused ? client.PauseQueueAsync(name, cancellationToken) : client.ResumeQueueAsync(name, cancellationToken)).ConfigureAwait(false);
        return Results.Json(new { queue = name, paused });
    }

    private static async Task<IResult> CreateScheduleAsync(HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        var (functionId, cron, options) = await ReadScheduleAsync(request, cancellationToken).ConfigureAwait(false);
        var schedule = await client.CreateScheduleAsync(functionId ?? throw new BadRequestException("\"functionId\" is required."), cron, options, cancellationToken).ConfigureAwait(false);
        return Results.Json(ScheduleJson(schedule), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> UpdateScheduleAsync(string id, HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        var (_, cron, options) = await ReadScheduleAsync(request, cancellationToken).ConfigureAwait(false);
        return Results.Json(ScheduleJson(await client.UpdateScheduleAsync(id, cron, options, cancellationToken).ConfigureAwait(false)));
    }

    private static async Task<(string? FunctionId, string Cron, ScheduleOptions Options)> ReadScheduleAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var body = await ReadJsonAsync(request, cancellationToken).ConfigureAwait(false);
        var root = body.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new BadRequestException("The body must be an object {functionId, cron, timeZone?, externalId?, deduplicationKey?, missed?}.");
        }

        var missed = OptionalString(root, "missed") is { } missedText
            ? Enum.TryParse<MissedSlots>(missedText, ignoreCase: true, out var m) && Enum.IsDefined(m)
                ? m
                : throw new BadRequestException($"\"missed\" is '{missedText}'; use skip or catchUpOne.")
            : MissedSlots.Skip;
        return (
            OptionalString(root, "functionId"),
            OptionalString(root, "cron") ?? throw new BadRequestException("\"cron\" is required: a cron expression of 5 fields, or 6 with seconds first."),
            new ScheduleOptions
            {
                TimeZone = OptionalString(root, "timeZone"),
                ExternalId = OptionalString(root, "externalId"),
                DeduplicationKey = OptionalString(root, "deduplicationKey"),
                Missed = missed,
            });
    }

    private static async Task<IResult> ListSchedulesAsync(HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        var limit = QueryNumber(request, "limit", 100, n => n is >= 1 and <= 1000, "a number from 1 to 1000");
        var schedules = await client.ListSchedulesAsync(
            QueryText(request, "functionId"), QueryText(request, "externalId"), QueryText(request, "after"), limit, cancellationToken).ConfigureAwait(false);
        return Results.Json(new { schedules = schedules.Select(ScheduleJson) });
    }

    private static async Task<IResult> GetScheduleAsync(string id, IBatonClient client, CancellationToken cancellationToken) =>
        await client.GetScheduleAsync(id, cancellationToken).ConfigureAwait(false) is { } schedule
            ? Results.Json(ScheduleJson(schedule))
            : NotFound($"There is no schedule with id '{id}'.");

    private static async Task<IResult> PauseScheduleAsync(string id, bool paused, IBatonClient client, CancellationToken cancellationToken)
    {
        await (paused ? client.PauseScheduleAsync(id, cancellationToken) : client.ResumeScheduleAsync(id, cancellationToken)).ConfigureAwait(false);
        return Results.Json(ScheduleJson((await client.GetScheduleAsync(id, cancellationToken).ConfigureAwait(false))!));
    }

    private static async Task<IResult> DeleteScheduleAsync(string id, IBatonClient client, CancellationToken cancellationToken) =>
        await client.DeleteScheduleAsync(id, cancellationToken).ConfigureAwait(false)
            ? Results.NoContent()
            : NotFound($"There is no schedule with id '{id}'.");

    private static object ScheduleJson(ScheduleInfo s) => new
    {
        id = s.Id,
        functionId = s.FunctionId,
        cron = s.Cron,
        timeZone = s.TimeZone,
        nextAt = s.NextAt,
        fromCode = s.FromCode,
        externalId = s.ExternalId,
        deduplicationKey = s.DeduplicationKey,
        paused = s.Paused,
        missed = JsonNamingPolicy.CamelCase.ConvertName(s.Missed.ToString()),
        createdAt = s.CreatedAt,
    };

    private static async Task<IResult> CancelAsync(string id, IBatonClient client, CancellationToken cancellationToken)
    {
        var cancelled = await client.CancelAsync(id, "Cancelled through the HTTP API.", cancellationToken).ConfigureAwait(false);
        return cancelled
            ? Results.Json(RunJson((await client.GetRunAsync(id, cancellationToken).ConfigureAwait(false))!))
            : Problem(StatusCodes.Status409Conflict, "Run already ended", $"Run '{id}' has already ended; only an unfinished run can be cancelled.", "run-ended");
    }

    private static async Task<IResult> ReplayAsync(string id, IBatonClient client, CancellationToken cancellationToken) =>
        Results.Json(new { runId = await client.ReplayAsync(id, cancellationToken).ConfigureAwait(false) }, statusCode: StatusCodes.Status202Accepted);

    /// <summary>A run as JSON: statuses and kinds in their lowercase wire names, steps when the run has them.</summary>
    private static object RunJson(RunInfo run) => new
    {
        id = run.Id,
        functionId = run.FunctionId,
        status = run.Status.ToWireName(),
        input = run.Event,
        events = run.Events,
        output = run.Output,
        outputBytes = run.OutputBytes,
        error = ErrorJson(run.Error),
        attempt = run.Attempt,
        createdAt = run.CreatedAt,
        startedAt = run.StartedAt,
        endedAt = run.EndedAt,
        tags = run.Tags,
        progress = run.Progress is { } p ? new { value = p.Value, message = p.Message, updatedAt = p.UpdatedAt } : null,
        metadata = run.Metadata,
        steps = run.Steps.Select(s => new
        {
            id = s.Id,
            kind = JsonNamingPolicy.KebabCaseLower.ConvertName(s.Kind.ToString()),
            status = JsonNamingPolicy.KebabCaseLower.ConvertName(s.Status.ToString()),
            attempts = s.Attempts,
            output = s.Output,
            outputBytes = s.OutputBytes,
            error = ErrorJson(s.Error),
            startedAt = s.StartedAt,
            endedAt = s.EndedAt,
            wakeAt = s.WakeAt,
            waitingFor = s.WaitingFor is { } w ? new { eventName = w.EventName, match = w.Match, condition = w.Condition } : null,
            childRunIds = s.ChildRunIds,
        }),
    };

    private static object? ErrorJson(RunError? error) => error is null ? null : new { type = error.Type, message = error.Message, stack = error.StackTrace };

    /// <summary>A query parameter's value, or null when it is absent or empty.</summary>
    private static string? QueryText(HttpRequest request, string name) =>
        request.Query[name].ToString() is { Length: > 0 } value ? value : null;

    /// <summary>A query parameter as a whole number (<paramref name="fallback"/> when absent), or a 400 saying what was expected.</summary>
    private static int QueryNumber(HttpRequest request, string name, int fallback, Func<int, bool>? valid = null, string expected = "a number") =>
        QueryText(request, name) is { } text
            ? int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && (valid is null || valid(number))
                ? number
                : throw new BadRequestException($"{name}={text} is not {expected}.")
            : fallback;

    private static TimeSpan? OptionalSeconds(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var seconds) && seconds >= 0 && seconds <= TimeSpan.MaxValue.TotalSeconds / 2
                ? TimeSpan.FromSeconds(seconds)
                : throw new BadRequestException($"\"{name}\" must be a non-negative number of seconds.")
            : null;

    private static string? OptionalString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : throw new BadRequestException($"\"{name}\" must be a string.")
            : null;

    private static async Task<JsonDocument> ReadJsonAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) && !type.Contains("+json", StringComparison.OrdinalIgnoreCase))
        {
            throw new ProblemException(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", $"The body is {type}; send application/json.");
        }

        try
        {
            return await JsonDocument.ParseAsync(request.Body, default, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            throw new BadRequestException($"The body is not valid JSON: {ex.Message}");
        }
    }

    private static IResult NotFound(string detail) => Problem(StatusCodes.Status404NotFound, "Not found", detail, "not-found");

    private static string Capitalized(string text) => string.Concat(text[..1].ToUpperInvariant(), text[1..]);

    /// <summary>
    /// Refuses a browser's cross-site request that would change something (a form or script on another site posting to
    /// a dev server on loopback, which needs no key, or to a host whose users are signed in by cookie). Browsers say where
    /// a request comes from (<c>Sec-Fetch-Site</c>, <c>Origin</c>); programs such as curl, the CLI and
    /// <see cref="BatonHttpClient"/> send neither and are not affected.
    /// </summary>
    private static ValueTask<object?> CrossSiteFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var request = context.HttpContext.Request;
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        {
            return next(context);
        }

        var site = request.Headers["Sec-Fetch-Site"].ToString();
        var origin = request.Headers.Origin.ToString();
        var crossSite = site.Length > 0
            ? site is not ("same-origin" or "none")
            : origin.Length > 0 && !string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);
        return crossSite
            ? ValueTask.FromResult<object?>(Problem(StatusCodes.Status403Forbidden, "Cross-site request",
                $"A page of another site ({(origin.Length > 0 ? origin : site)}) may not change anything here; call the API from this site or from a program.", "cross-site"))
            : next(context);
    }

    /// <summary>
    /// Kestrel decodes a path but leaves an escaped '/' (<c>%2F</c>) as it is, so a route value such as the function id
    /// <c>analyze/on-failure</c>, sent escaped as one segment, would arrive escaped: decode it.
    /// </summary>
    private static ValueTask<object?> UnescapedSlashesFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var routeValues = context.HttpContext.Request.RouteValues;
        var raw = context.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? "";
        for (var i = 0; i < context.Arguments.Count; i++)
        {
            // Only a '%2F' that Kestrel left escaped: a literal "%2F" in an id arrives as '%252F' and is decoded to "%2F" already.
            if (context.Arguments[i] is string value && value.Contains("%2F", StringComparison.OrdinalIgnoreCase) && routeValues.Values.Contains(value)
                && raw.Contains(value, StringComparison.OrdinalIgnoreCase))
            {
                context.Arguments[i] = value.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
            }
        }

        return next(context);
    }

    /// <summary>Turns what went wrong into a problem response: bad input 4xx with what was wrong, never a bare 500.</summary>
    private static async ValueTask<object?> ProblemsFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (ProblemException ex)
        {
            return Problem(ex.Status, ex.Title, ex.Message, ex.Status == StatusCodes.Status400BadRequest ? "invalid" : "unsupported-media-type");
        }
        catch (UnknownFunctionException ex)
        {
            return Problem(StatusCodes.Status404NotFound, "Unknown function", ex.Message, "unknown-function", new() { ["functionId"] = ex.FunctionId, ["knownFunctions"] = ex.KnownIds });
        }
        catch (KeyNotFoundException ex)
        {
            return Problem(StatusCodes.Status404NotFound, "Not found", ex.Message, "not-found");
        }
        catch (PayloadTooLargeException ex)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Payload too large", ex.Message, "payload-too-large", new() { ["sizeBytes"] = ex.SizeBytes, ["limitBytes"] = ex.LimitBytes });
        }
        catch (BadHttpRequestException ex)
        {
            return Problem(ex.StatusCode, "Bad request", ex.Message, "invalid");
        }
        catch (ArgumentException ex)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid request", ex.Message, "invalid");
        }
        catch (BatonException ex)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid request", ex.Message, "invalid");
        }
        catch (InvalidOperationException ex)
        {
            return Problem(StatusCodes.Status409Conflict, "Conflict", ex.Message, "conflict");
        }
    }

    /// <summary>A problem response with a machine-readable <c>code</c> (and details) that <see cref="BatonHttpClient"/> turns back into the exception.</summary>
    private static IResult Problem(int status, string title, string detail, string code, Dictionary<string, object?>? extensions = null)
    {
        extensions ??= [];
        extensions["code"] = code;
        return Results.Problem(statusCode: status, title: title, detail: detail, extensions: extensions);
    }

    private class ProblemException(int status, string title, string message) : Exception(message)
    {
        public int Status { get; } = status;

        public string Title { get; } = title;
    }

    private sealed class BadRequestException(string message) : ProblemException(StatusCodes.Status400BadRequest, "Invalid request", message);
}

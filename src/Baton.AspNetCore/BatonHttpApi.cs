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
public static class BatonHttpApi
{
    /// <summary>The most a <c>?wait=</c> on a trigger may wait, in seconds.</summary>
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
        group.MapGet("/healthz", HealthAsync).AllowAnonymous();

        var api = group.MapGroup("/api/v1");
        api.MapPost("/events", SendEventsAsync).WithMetadata(new BatonScopeMetadata(BatonKeyScope.Events));
        api.MapGet("/events", ListEventsAsync);
        api.MapGet("/events/{id}", GetEventAsync);
        api.MapGet("/functions", ListFunctionsAsync);
        api.MapGet("/functions/{id}", GetFunctionAsync);
        api.MapPost("/functions/{id}/runs", TriggerAsync);
        api.MapGet("/runs", ListRunsAsync);
        api.MapGet("/runs/{id}", GetRunAsync);
        api.MapPost("/runs/{id}/cancel", CancelAsync);
        api.MapPost("/runs/{id}/replay", ReplayAsync);
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
        var q = request.Query;
        var limit = q["limit"].ToString() is { Length: > 0 } limitText
            ? int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : throw new BadRequestException($"limit={limitText} is not a number.")
            : 50;
        var page = await client.ListEventsAsync(
            q["name"].ToString() is { Length: > 0 } name ? name : null, limit, q["cursor"].ToString() is { Length: > 0 } cursor ? cursor : null, cancellationToken).ConfigureAwait(false);
        return Results.Json(new { events = page.Events.Select(EventJson), nextCursor = page.NextCursor });
    }

    private static object EventJson(EventInfo e) =>
        new { id = e.Id, name = e.Name, data = e.Data, ts = e.Timestamp.ToUnixTimeMilliseconds(), receivedAt = e.ReceivedAt, runIds = e.RunIds };

    private static async Task<IResult> ListFunctionsAsync(IBatonClient client, CancellationToken cancellationToken) =>
        Results.Json(new { functions = (await client.ListFunctionsAsync(cancellationToken).ConfigureAwait(false)).Select(FunctionJson) });

    private static async Task<IResult> GetFunctionAsync(string id, IBatonClient client, CancellationToken cancellationToken) =>
        (await client.ListFunctionsAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(f => f.Id == id) is { } function
            ? Results.Json(FunctionJson(function))
            : NotFound($"There is no function with id '{id}'.");

    private static object FunctionJson(FunctionInfo f) => new { id = f.Id, triggers = f.Triggers, definition = f.Definition, updatedAt = f.UpdatedAt };

    private static async Task<IResult> TriggerAsync(string id, HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        var wait = request.Query["wait"].ToString() is { Length: > 0 } waitText
            ? int.TryParse(waitText, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds <= MaxWaitSeconds
                ? seconds
                : throw new BadRequestException($"wait={waitText} is not a number of seconds from 0 to {MaxWaitSeconds}.")
            : (int?)null;

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
                Delay = root.TryGetProperty("delay", out var delay) && delay.ValueKind != JsonValueKind.Null
                    ? delay.ValueKind == JsonValueKind.Number && delay.TryGetDouble(out var delaySeconds) && delaySeconds >= 0
                        ? TimeSpan.FromSeconds(delaySeconds)
                        : throw new BadRequestException("\"delay\" must be a non-negative number of seconds.")
                    : null,
            };
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
        if (wait is { } w && w > 0)
        {
            var run = await client.WaitForRunAsync(runId, TimeSpan.FromSeconds(w), cancellationToken).ConfigureAwait(false);
            if (run.Status.IsTerminal())
            {
                return Results.Json(RunJson(run), statusCode: StatusCodes.Status200OK);
            }
        }

        return Results.Json(new { runId }, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListRunsAsync(HttpRequest request, IBatonClient client, CancellationToken cancellationToken)
    {
        var q = request.Query;
        string? Text(string name) => q[name].ToString() is { Length: > 0 } value ? value : null;
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

        var limit = Text("limit") is { } limitText
            ? int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : throw new BadRequestException($"limit={limitText} is not a number.")
            : 50;
        var page = await client.ListRunsAsync(
            new RunQuery
            {
                FunctionId = Text("functionId"),
                Status = status,
                Tag = Text("tag"),
                EventId = Text("eventId"),
                From = Time("from"),
                To = Time("to"),
                Limit = limit,
                Cursor = Text("cursor"),
            },
            cancellationToken).ConfigureAwait(false);
        return Results.Json(new { runs = page.Runs.Select(RunJson), nextCursor = page.NextCursor });
    }

    private static async Task<IResult> GetRunAsync(string id, IBatonClient client, CancellationToken cancellationToken) =>
        await client.GetRunAsync(id, cancellationToken).ConfigureAwait(false) is { } run
            ? Results.Json(RunJson(run))
            : NotFound($"There is no run with id '{id}'.");

    private static async Task<IResult> CancelAsync(string id, IBatonClient client, CancellationToken cancellationToken)
    {
        var cancelled = await client.CancelAsync(id, "Cancelled through the HTTP API.", cancellationToken).ConfigureAwait(false);
        return cancelled
            ? Results.Json(RunJson((await client.GetRunAsync(id, cancellationToken).ConfigureAwait(false))!))
            : Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Run already ended", detail: $"Run '{id}' has already ended; only an unfinished run can be cancelled.");
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
        output = run.Output,
        error = run.Error is { } e ? new { type = e.Type, message = e.Message, stack = e.StackTrace } : null,
        attempt = run.Attempt,
        createdAt = run.CreatedAt,
        startedAt = run.StartedAt,
        endedAt = run.EndedAt,
        tags = run.Tags,
        steps = run.Steps.Select(s => new
        {
            id = s.Id,
            kind = JsonNamingPolicy.KebabCaseLower.ConvertName(s.Kind.ToString()),
            status = JsonNamingPolicy.KebabCaseLower.ConvertName(s.Status.ToString()),
            attempts = s.Attempts,
            output = s.Output,
            error = s.Error is { } se ? new { type = se.Type, message = se.Message, stack = se.StackTrace } : null,
            startedAt = s.StartedAt,
            endedAt = s.EndedAt,
            wakeAt = s.WakeAt,
        }),
    };

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

    private static IResult NotFound(string detail) => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: detail);

    private static string Capitalized(string text) => string.Concat(text[..1].ToUpperInvariant(), text[1..]);

    /// <summary>Turns what went wrong into a problem response: bad input 4xx with what was wrong, never a bare 500.</summary>
    private static async ValueTask<object?> ProblemsFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (ProblemException ex)
        {
            return Results.Problem(statusCode: ex.Status, title: ex.Title, detail: ex.Message);
        }
        catch (UnknownFunctionException ex)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown function", detail: ex.Message);
        }
        catch (KeyNotFoundException ex)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: ex.Message);
        }
        catch (PayloadTooLargeException ex)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large", detail: ex.Message);
        }
        catch (BadHttpRequestException ex)
        {
            return Results.Problem(statusCode: ex.StatusCode, title: "Bad request", detail: ex.Message);
        }
        catch (ArgumentException ex)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid request", detail: ex.Message);
        }
        catch (BatonException ex)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid request", detail: ex.Message);
        }
    }

    private class ProblemException(int status, string title, string message) : Exception(message)
    {
        public int Status { get; } = status;

        public string Title { get; } = title;
    }

    private sealed class BadRequestException(string message) : ProblemException(StatusCodes.Status400BadRequest, "Invalid request", message);
}

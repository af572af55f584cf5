using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Baton;

/// <summary>
/// The same <see cref="IBatonClient"/> as the in-process client, over a Baton server's HTTP API (<c>MapBaton()</c>,
/// <c>baton start</c>): application code sends events and triggers, reads and steers runs and schedules on a remote
/// Baton with the same calls. A refused call throws what the in-process client would: <see cref="ArgumentException"/>,
/// <see cref="KeyNotFoundException"/>, <see cref="UnknownFunctionException"/>, <see cref="PayloadTooLargeException"/>,
/// <see cref="InvalidOperationException"/>; a missing or wrong key <see cref="UnauthorizedAccessException"/>.
/// </summary>
public sealed class BatonHttpClient : IBatonClient
{
    private static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;
    private readonly HttpClient _http;

    /// <summary>Uses <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is where the API is mapped (ending in '/').</summary>
    public BatonHttpClient(HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(http);
        _http = http.BaseAddress is not null ? http : throw new ArgumentException("The HttpClient needs a BaseAddress: where the Baton API is mapped.", nameof(http));
    }

    /// <summary>A client for the server at <paramref name="baseAddress"/>, with an API key when the server needs one.</summary>
    public BatonHttpClient(Uri baseAddress, string? apiKey = null)
        : this(new HttpClient { BaseAddress = new Uri(baseAddress.ToString().TrimEnd('/') + "/") })
    {
        if (apiKey is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
    }

    /// <inheritdoc />
    public Task<SendResult> SendAsync(BatonEvent @event, CancellationToken cancellationToken = default) => SendAsync([@event], cancellationToken);

    /// <inheritdoc />
    public async Task<SendResult> SendAsync(IEnumerable<BatonEvent> events, CancellationToken cancellationToken = default)
    {
        var body = events.Select(e => new { name = e.Name, data = e.Data, id = e.Id, ts = e.Timestamp?.ToUnixTimeMilliseconds() }).ToList();
        var sent = await CallAsync(HttpMethod.Post, "api/v1/events", body, cancellationToken).ConfigureAwait(false);
        return new SendResult(Strings(sent.GetProperty("ids")), Strings(sent.GetProperty("runIds")));
    }

    /// <inheritdoc />
    public Task<string> TriggerAsync(string functionId, object? payload = null, CancellationToken cancellationToken = default) =>
        TriggerAsync(functionId, payload, new TriggerOptions(), cancellationToken);

    /// <inheritdoc />
    public async Task<string> TriggerAsync(string functionId, object? payload, TriggerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var body = new
        {
            data = payload,
            idempotencyKey = options.IdempotencyKey,
            idempotencyWindow = options.IdempotencyWindow.TotalSeconds,
            delay = options.Delay?.TotalSeconds,
            ttl = options.Ttl?.TotalSeconds,
            priority = options.Priority,
            queue = options.Queue,
            tags = options.Tags,
        };
        var result = await CallAsync(HttpMethod.Post, $"api/v1/functions/{Escape(functionId)}/runs", body, cancellationToken).ConfigureAwait(false);
        return result.GetProperty("runId").GetString()!;
    }

    /// <inheritdoc />
    public async Task<RunInfo?> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        try
        {
            return ToRun(await CallAsync(HttpMethod.Get, $"api/v1/runs/{Escape(runId)}", null, cancellationToken).ConfigureAwait(false));
        }
        catch (KeyNotFoundException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<RunInfo> WaitForRunAsync(string runId, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        // Long polls of at most the server's limit until the run ends or the time is up.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var left = timeout == Timeout.InfiniteTimeSpan ? TimeSpan.FromSeconds(60) : timeout - clock.Elapsed;
            var seconds = (int)Math.Clamp(Math.Ceiling(left.TotalSeconds), 0, 60);
            var run = ToRun(await CallAsync(HttpMethod.Get, $"api/v1/runs/{Escape(runId)}?wait={seconds.ToString(CultureInfo.InvariantCulture)}", null, cancellationToken).ConfigureAwait(false));
            if (run.Status.IsTerminal())
            {
                return run;
            }

            if (timeout != Timeout.InfiniteTimeSpan && clock.Elapsed >= timeout)
            {
                throw new TimeoutException($"Run '{runId}' did not end within {timeout}; it is {run.Status.ToWireName()}.");
            }
        }
    }

    /// <inheritdoc />
    public async Task<T?> TriggerAndWaitAsync<T>(string functionId, object? payload, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var run = await WaitForRunAsync(await TriggerAsync(functionId, payload, cancellationToken).ConfigureAwait(false), timeout, cancellationToken).ConfigureAwait(false);
        return run.Status == RunStatus.Completed ? run.GetOutput<T>(Json) : throw new RunFailedException(run);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> BatchTriggerAsync(string functionId, IEnumerable<object?> payloads, CancellationToken cancellationToken = default)
    {
        var result = await CallAsync(HttpMethod.Post, $"api/v1/functions/{Escape(functionId)}/runs/batch", new { items = payloads.ToList() }, cancellationToken).ConfigureAwait(false);
        return Strings(result.GetProperty("runIds"));
    }

    /// <inheritdoc />
    public async Task<bool> CancelAsync(string runId, string? reason = null, CancellationToken cancellationToken = default)
    {
        try
        {
            await CallAsync(HttpMethod.Post, $"api/v1/runs/{Escape(runId)}/cancel", null, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RunEndedException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async Task<string> ReplayAsync(string runId, CancellationToken cancellationToken = default) =>
        (await CallAsync(HttpMethod.Post, $"api/v1/runs/{Escape(runId)}/replay", null, cancellationToken).ConfigureAwait(false)).GetProperty("runId").GetString()!;

    /// <inheritdoc />
    public async Task<string> RerunFromStepAsync(string runId, string stepId, CancellationToken cancellationToken = default) =>
        (await CallAsync(HttpMethod.Post, $"api/v1/runs/{Escape(runId)}/rerun", new { stepId }, cancellationToken).ConfigureAwait(false)).GetProperty("runId").GetString()!;

    /// <inheritdoc />
    public Task PauseQueueAsync(string queue, CancellationToken cancellationToken = default) =>
        CallAsync(HttpMethod.Post, $"api/v1/queues/{Escape(queue)}/pause", null, cancellationToken);

    /// <inheritdoc />
    public Task ResumeQueueAsync(string queue, CancellationToken cancellationToken = default) =>
        CallAsync(HttpMethod.Post, $"api/v1/queues/{Escape(queue)}/resume", null, cancellationToken);

    /// <inheritdoc />
    public async Task<ScheduleInfo> CreateScheduleAsync(string functionId, string cron, ScheduleOptions? options = null, CancellationToken cancellationToken = default) =>
        ToSchedule(await CallAsync(HttpMethod.Post, "api/v1/schedules", ScheduleBody(functionId, cron, options), cancellationToken).ConfigureAwait(false));

    /// <inheritdoc />
    public async Task<ScheduleInfo?> GetScheduleAsync(string scheduleId, CancellationToken cancellationToken = default)
    {
        try
        {
            return ToSchedule(await CallAsync(HttpMethod.Get, $"api/v1/schedules/{Escape(scheduleId)}", null, cancellationToken).ConfigureAwait(false));
        }
        catch (KeyNotFoundException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ScheduleInfo>> ListSchedulesAsync(string? functionId = null, string? externalId = null, string? afterId = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        var query = Query(("functionId", functionId), ("externalId", externalId), ("after", afterId), ("limit", limit.ToString(CultureInfo.InvariantCulture)));
        var result = await CallAsync(HttpMethod.Get, "api/v1/schedules" + query, null, cancellationToken).ConfigureAwait(false);
        return [.. result.GetProperty("schedules").EnumerateArray().Select(ToSchedule)];
    }

    /// <inheritdoc />
    public async Task<ScheduleInfo> UpdateScheduleAsync(string scheduleId, string cron, ScheduleOptions? options = null, CancellationToken cancellationToken = default) =>
        ToSchedule(await CallAsync(HttpMethod.Put, $"api/v1/schedules/{Escape(scheduleId)}", ScheduleBody(null, cron, options), cancellationToken).ConfigureAwait(false));

    /// <inheritdoc />
    public Task PauseScheduleAsync(string scheduleId, CancellationToken cancellationToken = default) =>
        CallAsync(HttpMethod.Post, $"api/v1/schedules/{Escape(scheduleId)}/pause", null, cancellationToken);

    /// <inheritdoc />
    public Task ResumeScheduleAsync(string scheduleId, CancellationToken cancellationToken = default) =>
        CallAsync(HttpMethod.Post, $"api/v1/schedules/{Escape(scheduleId)}/resume", null, cancellationToken);

    /// <inheritdoc />
    public async Task<bool> DeleteScheduleAsync(string scheduleId, CancellationToken cancellationToken = default)
    {
        try
        {
            await CallAsync(HttpMethod.Delete, $"api/v1/schedules/{Escape(scheduleId)}", null, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (KeyNotFoundException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async Task<RunPage> ListRunsAsync(RunQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var text = Query([.. RunFilter(query),
            ("status", query.Status?.ToWireName()), ("limit", query.Limit.ToString(CultureInfo.InvariantCulture)), ("cursor", query.Cursor)]);
        var page = await CallAsync(HttpMethod.Get, "api/v1/runs" + text, null, cancellationToken).ConfigureAwait(false);
        return new RunPage([.. page.GetProperty("runs").EnumerateArray().Select(ToRun)], page.GetProperty("nextCursor").GetString());
    }

    /// <inheritdoc />
    public async Task<JsonElement?> GetStepOutputAsync(string runId, string stepId, CancellationToken cancellationToken = default)
    {
        var value = await CallAsync(HttpMethod.Get, $"api/v1/runs/{Escape(runId)}/steps/{Escape(stepId)}/output", null, cancellationToken).ConfigureAwait(false);
        return value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? null : value;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<RunStatus, long>> CountRunsAsync(RunQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var result = await CallAsync(HttpMethod.Get, "api/v1/runs/counts" + Query(RunFilter(query)), null, cancellationToken).ConfigureAwait(false);
        return result.GetProperty("counts").EnumerateObject()
            .Where(c => c.Value.GetInt64() > 0)
            .ToDictionary(c => RunStatusExtensions.FromWireName(c.Name), c => c.Value.GetInt64());
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<QueueInfo>> ListQueuesAsync(CancellationToken cancellationToken = default)
    {
        var result = await CallAsync(HttpMethod.Get, "api/v1/queues", null, cancellationToken).ConfigureAwait(false);
        return [.. result.GetProperty("queues").EnumerateArray().Select(q => new QueueInfo(
            q.GetProperty("name").GetString()!, q.GetProperty("ready").GetInt64(), q.GetProperty("running").GetInt64(), q.GetProperty("later").GetInt64(), q.GetProperty("paused").GetBoolean()))];
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FunctionInfo>> ListFunctionsAsync(CancellationToken cancellationToken = default)
    {
        var result = await CallAsync(HttpMethod.Get, "api/v1/functions", null, cancellationToken).ConfigureAwait(false);
        return [.. result.GetProperty("functions").EnumerateArray().Select(f => new FunctionInfo(
            f.GetProperty("id").GetString()!, Strings(f.GetProperty("triggers")), f.GetProperty("definition").Clone(), f.GetProperty("updatedAt").GetDateTimeOffset()))];
    }

    /// <inheritdoc />
    public async Task<EventInfo?> GetEventAsync(string eventId, CancellationToken cancellationToken = default)
    {
        try
        {
            return ToEvent(await CallAsync(HttpMethod.Get, $"api/v1/events/{Escape(eventId)}", null, cancellationToken).ConfigureAwait(false));
        }
        catch (KeyNotFoundException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<EventPage> ListEventsAsync(string? name = null, int limit = 50, string? cursor = null, CancellationToken cancellationToken = default)
    {
        var page = await CallAsync(HttpMethod.Get, "api/v1/events" + Query(("name", name), ("limit", limit.ToString(CultureInfo.InvariantCulture)), ("cursor", cursor)), null, cancellationToken).ConfigureAwait(false);
        return new EventPage([.. page.GetProperty("events").EnumerateArray().Select(ToEvent)], page.GetProperty("nextCursor").GetString());
    }

    private async Task<JsonElement> CallAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path)
        {
            Content = body is null ? null : new StringContent(JsonSerializer.Serialize(body, Json), Encoding.UTF8, "application/json"),
        };
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        }

        throw Refused(response.StatusCode, text);
    }

    /// <summary>The exception the in-process client would have thrown for the server's problem.</summary>
    private static Exception Refused(HttpStatusCode status, string text)
    {
        JsonElement problem = default;
        try
        {
            problem = JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's page): reported as it is.
        }

        string? Field(string name) => problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        var detail = Field("detail") ?? $"{(int)status} {status}: {text}";
        return (status, Field("code")) switch
        {
            (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, _) => new UnauthorizedAccessException(detail),
            (_, "unknown-function") => new UnknownFunctionException(Field("functionId") ?? "", problem.TryGetProperty("knownFunctions", out var known) ? Strings(known) : []),
            (_, "not-found") => new KeyNotFoundException(detail),
            (_, "payload-too-large") => new PayloadTooLargeException("The payload", problem.GetProperty("sizeBytes").GetInt64(), problem.GetProperty("limitBytes").GetInt64()),
            (_, "run-ended") => new RunEndedException(detail),
            (_, "conflict") => new InvalidOperationException(detail),
            (_, "invalid") => new ArgumentException(detail),
            _ => new HttpRequestException(detail, null, status),
        };
    }

    private static RunInfo ToRun(JsonElement run) => new()
    {
        Id = run.GetProperty("id").GetString()!,
        FunctionId = run.GetProperty("functionId").GetString()!,
        Status = RunStatusExtensions.FromWireName(run.GetProperty("status").GetString()!),
        Event = run.GetProperty("input").Clone(),
        Events = run.TryGetProperty("events", out var events) ? [.. events.EnumerateArray().Select(e => e.Clone())] : [run.GetProperty("input").Clone()],
        Output = Present(run, "output"),
        OutputBytes = run.TryGetProperty("outputBytes", out var runBytes) && runBytes.ValueKind == JsonValueKind.Number ? runBytes.GetInt64() : null,
        Error = ToError(run.GetProperty("error")),
        Attempt = run.GetProperty("attempt").GetInt32(),
        CreatedAt = run.GetProperty("createdAt").GetDateTimeOffset(),
        StartedAt = Time(run, "startedAt"),
        EndedAt = Time(run, "endedAt"),
        Tags = Strings(run.GetProperty("tags")),
        Progress = Present(run, "progress") is { } progress
            ? new RunProgress(progress.GetProperty("value").GetDouble(), progress.GetProperty("message").GetString(), progress.GetProperty("updatedAt").GetDateTimeOffset())
            : null,
        Metadata = Present(run, "metadata"),
        Steps = [.. run.GetProperty("steps").EnumerateArray().Select(s => new StepInfo
        {
            Id = s.GetProperty("id").GetString()!,
            Kind = Enum.Parse<StepKind>(s.GetProperty("kind").GetString()!.Replace("-", "", StringComparison.Ordinal), ignoreCase: true),
            Status = Enum.Parse<StepStatus>(s.GetProperty("status").GetString()!.Replace("-", "", StringComparison.Ordinal), ignoreCase: true),
            Attempts = s.GetProperty("attempts").GetInt32(),
            Output = Present(s, "output"),
            OutputBytes = s.TryGetProperty("outputBytes", out var stepBytes) && stepBytes.ValueKind == JsonValueKind.Number ? stepBytes.GetInt64() : null,
            Error = ToError(s.GetProperty("error")),
            StartedAt = s.GetProperty("startedAt").GetDateTimeOffset(),
            EndedAt = Time(s, "endedAt"),
            WakeAt = Time(s, "wakeAt"),
            WaitingFor = Present(s, "waitingFor") is { } w
                ? new EventWaitInfo(w.GetProperty("eventName").GetString()!, w.GetProperty("match").GetString(), w.GetProperty("condition").GetString())
                : null,
            ChildRunIds = s.TryGetProperty("childRunIds", out var children) ? Strings(children) : [],
        })],
    };

    private static ScheduleInfo ToSchedule(JsonElement s) =>
        new(s.GetProperty("id").GetString()!, s.GetProperty("functionId").GetString()!, s.GetProperty("cron").GetString()!, s.GetProperty("timeZone").GetString()!, s.GetProperty("nextAt").GetDateTimeOffset())
        {
            FromCode = s.GetProperty("fromCode").GetBoolean(),
            ExternalId = s.GetProperty("externalId").GetString(),
            DeduplicationKey = s.GetProperty("deduplicationKey").GetString(),
            Paused = s.GetProperty("paused").GetBoolean(),
            Missed = Enum.Parse<MissedSlots>(s.GetProperty("missed").GetString()!, ignoreCase: true),
            CreatedAt = s.GetProperty("createdAt").GetDateTimeOffset(),
        };

    private static EventInfo ToEvent(JsonElement e) =>
        new(e.GetProperty("id").GetString()!, e.GetProperty("name").GetString()!, e.GetProperty("data").Clone(),
            DateTimeOffset.FromUnixTimeMilliseconds(e.GetProperty("ts").GetInt64()), e.GetProperty("receivedAt").GetDateTimeOffset(), Strings(e.GetProperty("runIds")))
        {
            Runs = [.. e.GetProperty("runs").EnumerateArray().Select(r => new EventRunInfo(
                r.GetProperty("id").GetString()!, r.GetProperty("functionId").GetString()!, RunStatusExtensions.FromWireName(r.GetProperty("status").GetString()!)))],
            Skipped = [.. e.GetProperty("skipped").EnumerateArray().Select(k => new SkippedRunInfo(k.GetProperty("functionId").GetString()!, k.GetProperty("reason").GetString()!))],
            DataBytes = e.TryGetProperty("dataBytes", out var bytes) && bytes.ValueKind == JsonValueKind.Number ? bytes.GetInt64() : null,
        };

    private static object ScheduleBody(string? functionId, string cron, ScheduleOptions? options)
    {
        options ??= new ScheduleOptions();
        return new
        {
            functionId,
            cron,
            timeZone = options.TimeZone,
            externalId = options.ExternalId,
            deduplicationKey = options.DeduplicationKey,
            missed = options.Missed.ToString(),
        };
    }

    private static RunError? ToError(JsonElement error) =>
        error.ValueKind == JsonValueKind.Object
            ? new RunError(error.GetProperty("type").GetString()!, error.GetProperty("message").GetString()!, error.GetProperty("stack").GetString())
            : null;

    private static JsonElement? Present(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.Clone() : null;

    private static DateTimeOffset? Time(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetDateTimeOffset() : null;

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(v => v.GetString()!)];

    private static string Escape(string segment)
    {
        ArgumentException.ThrowIfNullOrEmpty(segment);
        return Uri.EscapeDataString(segment);
    }

    /// <summary>The query parameters that select runs, shared by the list and the counts.</summary>
    private static (string Name, string? Value)[] RunFilter(RunQuery query) =>
    [
        ("functionId", query.FunctionId), ("tag", query.Tag), ("eventId", query.EventId),
        ("from", query.From?.ToString("O", CultureInfo.InvariantCulture)), ("to", query.To?.ToString("O", CultureInfo.InvariantCulture)),
    ];

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var given = parameters.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToList();
        return given.Count == 0 ? "" : "?" + string.Join("&", given);
    }

    private sealed class RunEndedException(string message) : InvalidOperationException(message);
}

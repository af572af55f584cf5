using System.CommandLine;
using Microsoft.Extensions.Hosting;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Baton.Cli;

/// <summary>The <c>baton</c> commands: servers (<c>dev</c>, <c>start</c>) and commands that talk to a server.</summary>
internal static class BatonCommands
{
    public const string DefaultUrl = "http://127.0.0.1:8288";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("Baton: durable step functions and tasks for .NET.");
        root.Subcommands.Add(DevCommand(output, error));
        root.Subcommands.Add(StartCommand(output, error));

        var url = new Option<string>("--url") { Description = "The server (default: BATON_URL, or " + DefaultUrl + ").", Recursive = true };
        root.Options.Add(url);
        root.Subcommands.Add(SendCommand(url, output, error));
        root.Subcommands.Add(RunsCommand(url, output, error));
        root.Subcommands.Add(FunctionsCommand(url, output, error));
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }

    private static Command DevCommand(TextWriter output, TextWriter error)
    {
        var port = new Option<int>("--port") { Description = "The port (default 8288).", DefaultValueFactory = _ => 8288 };
        var db = new Option<string>("--db") { Description = "The SQLite file (default .baton/dev.db).", DefaultValueFactory = _ => Path.Combine(".baton", "dev.db") };
        var command = new Command("dev", "Start a development server on 127.0.0.1: the API over a SQLite file, no keys.") { port, db };
        command.SetAction((parse, cancellationToken) => ServeAsync(
            new ServerSettings { Bind = "127.0.0.1", Port = parse.GetValue(port), SqlitePath = parse.GetValue(db), Dev = true },
            output, error, cancellationToken));
        return command;
    }

    private static Command StartCommand(TextWriter output, TextWriter error)
    {
        var sqlite = new Option<string?>("--sqlite") { Description = "A SQLite file as the storage." };
        var postgres = new Option<string?>("--postgres") { Description = "A PostgreSQL connection string as the storage." };
        var port = new Option<int>("--port") { Description = "The port (default 8288).", DefaultValueFactory = _ => 8288 };
        var bind = new Option<string>("--bind") { Description = "The address to listen on, such as 0.0.0.0 or 127.0.0.1.", Required = true };
        var keys = new Option<string[]>("--api-key") { Description = "An accepted key (repeatable); 'events:<key>' may only send events. Also BATON_API_KEYS=k1,k2.", AllowMultipleArgumentsPerToken = false };
        var maxRequest = new Option<long>("--max-request-bytes") { Description = "The largest request body (default 8 MiB).", DefaultValueFactory = _ => 8 * 1024 * 1024 };
        var maxEvent = new Option<int>("--max-event-bytes") { Description = "The largest event payload (default 1 MiB).", DefaultValueFactory = _ => 1024 * 1024 };
        var maxEvents = new Option<int>("--max-events-per-request") { Description = "The most events per request (default 1000).", DefaultValueFactory = _ => 1000 };
        var command = new Command("start", "Start a production server: the API over SQLite or PostgreSQL, API keys required.")
        {
            sqlite, postgres, port, bind, keys, maxRequest, maxEvent, maxEvents,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var fromEnvironment = (Environment.GetEnvironmentVariable("BATON_API_KEYS") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return ServeAsync(
                new ServerSettings
                {
                    Bind = parse.GetValue(bind)!,
                    Port = parse.GetValue(port),
                    SqlitePath = parse.GetValue(sqlite),
                    Postgres = parse.GetValue(postgres),
                    ApiKeys = [.. parse.GetValue(keys) ?? [], .. fromEnvironment],
                    MaxRequestBytes = parse.GetValue(maxRequest),
                    MaxEventBytes = parse.GetValue(maxEvent),
                    MaxEventsPerRequest = parse.GetValue(maxEvents),
                },
                output, error, cancellationToken);
        });
        return command;
    }

    private static async Task<int> ServeAsync(ServerSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        Microsoft.AspNetCore.Builder.WebApplication app;
        try
        {
            app = BatonServer.Build(settings);
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 2;
        }

        await using (app.ConfigureAwait(false))
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = app.Urls.First();
            await output.WriteLineAsync($"Baton is listening on {address} ({(settings.Postgres is null ? "SQLite " + Path.GetFullPath(settings.SqlitePath!) : "PostgreSQL")}).").ConfigureAwait(false);
            await output.WriteLineAsync($"Dashboard: {address}/dashboard/").ConfigureAwait(false);
            if (settings.Dev)
            {
                await output.WriteLineAsync($"""
                    Dev mode: no API keys, loopback only. Next:
                      open {address}/dashboard/                      the dashboard
                      baton send app/hello --data '{"{"}"name":"Ada"{"}"}'     send an event
                      baton runs list                                   see runs
                      curl {address}/api/v1/functions                   the HTTP API
                    """).ConfigureAwait(false);
            }

            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }

        return 0;
    }

    private static Command SendCommand(Option<string> url, TextWriter output, TextWriter error)
    {
        var name = new Argument<string?>("name") { Description = "The event name.", Arity = ArgumentArity.ZeroOrOne };
        var data = new Option<string?>("--data") { Description = "The payload, as JSON." };
        var id = new Option<string?>("--id") { Description = "An idempotency id: an event with an id already accepted is accepted once." };
        var file = new Option<FileInfo?>("--file") { Description = "Send the events of a file instead: a JSON array, or one JSON event {name, data, id?} per line." };
        var chunk = new Option<int>("--chunk") { Description = "Events per request with --file (default 500).", DefaultValueFactory = _ => 500 };
        var command = new Command("send", "Send an event, or the events of a file (with progress).") { name, data, id, file, chunk };
        command.SetAction((parse, cancellationToken) => CallAsync(parse.GetValue(url), error, async http =>
        {
            if (parse.GetValue(file) is { } events)
            {
                await SendFileAsync(http, events, Math.Clamp(parse.GetValue(chunk), 1, 10_000), output, cancellationToken).ConfigureAwait(false);
                return;
            }

            var eventName = parse.GetValue(name) ?? throw new CliException("Give the event name (baton send <name> --data <json>), or --file <path>.");
            var payload = parse.GetValue(data) is { } json ? ParseJson(json, "--data") : (JsonElement?)null;
            var body = JsonSerializer.Serialize(new { name = eventName, data = payload, id = parse.GetValue(id) });
            var sent = await SendAsync(http, HttpMethod.Post, "api/v1/events", body, cancellationToken).ConfigureAwait(false);
            var runs = sent.GetProperty("runIds").EnumerateArray().Select(r => r.GetString()).ToList();
            await output.WriteLineAsync($"Accepted event {sent.GetProperty("ids")[0].GetString()}; {(runs.Count == 0 ? "it started no run" : "runs: " + string.Join(", ", runs))}.").ConfigureAwait(false);
        }));
        return command;
    }

    /// <summary>Sends a file's events in chunks, with a progress bar; a refused chunk stops the command (earlier chunks stay accepted).</summary>
    private static async Task SendFileAsync(HttpClient http, FileInfo file, int chunk, TextWriter output, CancellationToken cancellationToken)
    {
        if (!file.Exists)
        {
            throw new CliException($"--file {file.FullName} does not exist.");
        }

        var text = await File.ReadAllTextAsync(file.FullName, cancellationToken).ConfigureAwait(false);
        var events = text.TrimStart().StartsWith('[')
            ? [.. ParseJson(text, "--file").EnumerateArray()]
            : text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select((line, i) => ParseJson(line, $"line {i + 1} of --file")).ToList();
        var (accepted, runs) = (0, 0);
        await Console(output).Progress().StartAsync(async progress =>
        {
            var task = progress.AddTask($"Sending {events.Count} events", maxValue: Math.Max(1, events.Count));
            foreach (var part in events.Chunk(chunk))
            {
                var sent = await SendAsync(http, HttpMethod.Post, "api/v1/events", JsonSerializer.Serialize(part), cancellationToken).ConfigureAwait(false);
                accepted += part.Length;
                runs += sent.GetProperty("runIds").GetArrayLength();
                task.Increment(part.Length);
            }
        }).ConfigureAwait(false);
        await output.WriteLineAsync($"Sent {accepted} events; they started {runs} runs.").ConfigureAwait(false);
    }

    private static Command RunsCommand(Option<string> url, TextWriter output, TextWriter error)
    {
        var runs = new Command("runs", "List, show, cancel and replay runs.");

        var function = new Option<string?>("--function") { Description = "Only runs of this function." };
        var status = new Option<string?>("--status") { Description = "Only runs in this status (queued, running, completed, failed, ...)." };
        var limit = new Option<int>("--limit") { Description = "How many (default 20).", DefaultValueFactory = _ => 20 };
        var list = new Command("list", "The newest runs.") { function, status, limit };
        list.SetAction((parse, cancellationToken) => CallAsync(parse.GetValue(url), error, async http =>
        {
            var query = $"api/v1/runs?limit={parse.GetValue(limit)}"
                + (parse.GetValue(function) is { } f ? "&functionId=" + Uri.EscapeDataString(f) : "")
                + (parse.GetValue(status) is { } s ? "&status=" + Uri.EscapeDataString(s) : "");
            var page = await SendAsync(http, HttpMethod.Get, query, null, cancellationToken).ConfigureAwait(false);
            var table = new Table().AddColumns("Run", "Function", "Status", "Created", "Ended");
            foreach (var run in page.GetProperty("runs").EnumerateArray())
            {
                table.AddRow(Markup.Escape(run.GetProperty("id").GetString()!), Markup.Escape(run.GetProperty("functionId").GetString()!),
                    Markup.Escape(run.GetProperty("status").GetString()!), Time(run, "createdAt"), Time(run, "endedAt"));
            }

            if (table.Rows.Count == 0)
            {
                await output.WriteLineAsync("No runs match.").ConfigureAwait(false);
                return;
            }

            Console(output).Write(table);
        }));
        runs.Subcommands.Add(list);

        var showId = new Argument<string>("id") { Description = "The run id." };
        var wait = new Option<bool>("--wait") { Description = "Wait until the run ends, showing its status meanwhile." };
        var show = new Command("show", "A run with its step timeline.") { showId, wait };
        show.SetAction((parse, cancellationToken) => CallAsync(parse.GetValue(url), error, async http =>
        {
            var path = "api/v1/runs/" + Uri.EscapeDataString(parse.GetValue(showId)!);
            var run = await SendAsync(http, HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(wait))
            {
                await Console(output).Status().StartAsync($"Run is {run.GetProperty("status").GetString()}", async status =>
                {
                    while (!Ended(run.GetProperty("status").GetString()!))
                    {
                        run = await SendAsync(http, HttpMethod.Get, path + "?wait=10", null, cancellationToken).ConfigureAwait(false);
                        status.Status($"Run is {run.GetProperty("status").GetString()} ({run.GetProperty("steps").GetArrayLength()} steps)");
                    }
                }).ConfigureAwait(false);
            }

            var console = Console(output);
            console.MarkupLine($"[bold]{Markup.Escape(run.GetProperty("id").GetString()!)}[/] {Markup.Escape(run.GetProperty("functionId").GetString()!)}: {Markup.Escape(run.GetProperty("status").GetString()!)}");
            var table = new Table().AddColumns("Step", "Kind", "Status", "Attempts", "Started", "Ended", "Output / error");
            foreach (var step in run.GetProperty("steps").EnumerateArray())
            {
                var detail = step.GetProperty("error").ValueKind == JsonValueKind.Object
                    ? step.GetProperty("error").GetProperty("message").GetString()!
                    : step.GetProperty("output").ToString();
                table.AddRow(Markup.Escape(step.GetProperty("id").GetString()!), step.GetProperty("kind").GetString()!, step.GetProperty("status").GetString()!,
                    step.GetProperty("attempts").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture), Time(step, "startedAt"), Time(step, "endedAt"),
                    Markup.Escape(detail.Length > 80 ? detail[..77] + "..." : detail));
            }

            console.Write(table);
            if (run.GetProperty("error").ValueKind == JsonValueKind.Object)
            {
                console.MarkupLine($"[red]{Markup.Escape(run.GetProperty("error").GetProperty("message").GetString()!)}[/]");
            }
        }));
        runs.Subcommands.Add(show);

        foreach (var (verb, description) in new[] { ("cancel", "Cancel an unfinished run."), ("replay", "Start a new run of the same function with the same input.") })
        {
            var id = new Argument<string>("id") { Description = "The run id." };
            var action = new Command(verb, description) { id };
            action.SetAction((parse, cancellationToken) => CallAsync(parse.GetValue(url), error, async http =>
            {
                var result = await SendAsync(http, HttpMethod.Post, $"api/v1/runs/{Uri.EscapeDataString(parse.GetValue(id)!)}/{verb}", null, cancellationToken).ConfigureAwait(false);
                await output.WriteLineAsync(verb == "cancel"
                    ? $"Run {result.GetProperty("id").GetString()} is {result.GetProperty("status").GetString()}."
                    : $"Started run {result.GetProperty("runId").GetString()}.").ConfigureAwait(false);
            }));
            runs.Subcommands.Add(action);
        }

        return runs;
    }

    private static Command FunctionsCommand(Option<string> url, TextWriter output, TextWriter error)
    {
        var command = new Command("functions", "The registered functions and their triggers.");
        command.SetAction((parse, cancellationToken) => CallAsync(parse.GetValue(url), error, async http =>
        {
            var functions = await SendAsync(http, HttpMethod.Get, "api/v1/functions", null, cancellationToken).ConfigureAwait(false);
            var table = new Table().AddColumns("Function", "Triggers");
            foreach (var function in functions.GetProperty("functions").EnumerateArray())
            {
                table.AddRow(Markup.Escape(function.GetProperty("id").GetString()!),
                    Markup.Escape(string.Join(", ", function.GetProperty("triggers").EnumerateArray().Select(t => t.GetString()))));
            }

            if (table.Rows.Count == 0)
            {
                await output.WriteLineAsync("No functions are registered: an app with AddBaton(...) registers its functions in this server's storage.").ConfigureAwait(false);
                return;
            }

            Console(output).Write(table);
        }));
        return command;
    }

    /// <summary>Runs a call against the server; a refused call prints the server's problem and exits 1.</summary>
    private static async Task<int> CallAsync(string? url, TextWriter error, Func<HttpClient, Task> call)
    {
        using var http = new HttpClient { BaseAddress = new Uri((url ?? Environment.GetEnvironmentVariable("BATON_URL") ?? DefaultUrl).TrimEnd('/') + "/") };
        if (Environment.GetEnvironmentVariable("BATON_API_KEY") is { Length: > 0 } key)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        try
        {
            await call(http).ConfigureAwait(false);
            return 0;
        }
        catch (CliException ex)
        {
            await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 1;
        }
        catch (HttpRequestException ex)
        {
            await error.WriteLineAsync($"Cannot reach {http.BaseAddress}: {ex.Message}. Is a server running (baton dev)? Set --url or BATON_URL.").ConfigureAwait(false);
            return 1;
        }
    }

    private static async Task<JsonElement> SendAsync(HttpClient http, HttpMethod method, string path, string? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        JsonElement json;
        try
        {
            json = JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new CliException($"{(int)response.StatusCode} {response.ReasonPhrase}: {text}");
        }

        return response.IsSuccessStatusCode
            ? json
            : throw new CliException($"{(int)response.StatusCode} {(json.TryGetProperty("title", out var title) ? title.GetString() : response.ReasonPhrase)}: {(json.TryGetProperty("detail", out var detail) ? detail.GetString() : text)}");
    }

    private static JsonElement ParseJson(string json, string what)
    {
        try
        {
            return JsonDocument.Parse(json).RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new CliException($"{what} is not valid JSON: {ex.Message}");
        }
    }

    private static bool Ended(string status) => status is "completed" or "failed" or "cancelled" or "expired" or "timed-out";

    private static string Time(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetDateTimeOffset().ToString("u", System.Globalization.CultureInfo.InvariantCulture) : "";

    private static IAnsiConsole Console(TextWriter output) =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.Detect, ColorSystem = ColorSystemSupport.Detect });

    private sealed class CliException(string message) : Exception(message);
}

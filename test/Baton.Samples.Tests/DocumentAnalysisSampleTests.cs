using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Baton.Samples.Tests;

/// <summary>Runs the sample app as a real process on loopback, as the README's first command does.</summary>
public sealed class DocumentAnalysisSampleTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _contentRoot = Path.Combine(Path.GetTempPath(), "baton-sample-tests", Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public DocumentAnalysisSampleTests() => Directory.CreateDirectory(_contentRoot);

    [Fact]
    public async Task Sample_PostDocument_IsAnalyzedAndBadInputGetsProblemDetails()
    {
        var (process, baseUrl) = await StartSampleAsync();
        using (process)
        {
            var accepted = await _http.PostAsJsonAsync($"{baseUrl}/documents", new { fileUrl = $"{baseUrl}/samples/contract.txt" });
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            var docId = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("docId").GetString()!;

            var doc = await WaitForStatusAsync(baseUrl, docId, "done");
            Assert.Contains("Northwind", doc.GetProperty("analysis").GetString(), StringComparison.Ordinal);

            var bad = await _http.PostAsJsonAsync($"{baseUrl}/documents", new { fileUrl = "not a url" });
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType!.MediaType);
            var missing = await _http.GetAsync($"{baseUrl}/documents/nope");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

            process.Kill();
        }
    }

    [Fact]
    public async Task Sample_KilledHalfWay_ResumesAfterRestartAndEveryDocumentIsDone()
    {
        var docIds = new List<string>();
        var (first, baseUrl) = await StartSampleAsync();
        using (first)
        {
            for (var i = 0; i < 8; i++)
            {
                var accepted = await _http.PostAsJsonAsync($"{baseUrl}/documents", new { fileUrl = $"{baseUrl}/samples/incident.txt" });
                docIds.Add((await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("docId").GetString()!);
            }

            // The fake LLM takes 200 ms a call: a SIGKILL now lands with runs part-way through their steps.
            first.Kill();
            await first.WaitForExitAsync();
        }

        var unfinished = Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'analyze-document' AND status NOT IN (3, 4, 5)");
        // Same address again: the queued documents' URLs point at the app itself.
        var (second, secondUrl) = await StartSampleAsync(new Uri(baseUrl).Port);
        using (second)
        {
            foreach (var docId in docIds)
            {
                await WaitForStatusAsync(secondUrl, docId, "done");
            }

            // A document is done when its save-result step commits; its run completes a moment later.
            var deadline = DateTime.UtcNow + Timeout;
            while (Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'analyze-document' AND status = 3") < 8)
            {
                Assert.True(DateTime.UtcNow < deadline, "every run completed after its document was saved");
                await Task.Delay(20);
            }

            second.Kill();
            await second.WaitForExitAsync();
        }

        Assert.True(unfinished > 0, "the kill interrupted at least one run");
        Assert.Equal(8, Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'analyze-document' AND status = 3"));
        Assert.Equal(24, Scalar("SELECT COUNT(*) FROM steps WHERE status = 0 AND key IN ('extract-text', 'claude-analysis', 'save-result')"));
    }

    [Fact]
    public async Task Sample_TwoCopiesOnPostgreSql_ShareOneDatabaseAndTheWork()
    {
        var server = await Baton.Tests.Infrastructure.PostgresServer.SharedAsync();
        var database = "sample_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = Npgsql.NpgsqlDataSource.Create(server.ConnectionString))
        await using (var create = admin.CreateCommand($"CREATE DATABASE {database}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        var postgres = new Npgsql.NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = database }.ConnectionString;
        var (first, firstUrl) = await StartSampleAsync(postgres: postgres, contentRoot: Directory.CreateDirectory(Path.Combine(_contentRoot, "a")).FullName);
        var (second, secondUrl) = await StartSampleAsync(postgres: postgres, contentRoot: Directory.CreateDirectory(Path.Combine(_contentRoot, "b")).FullName);
        using (first)
        using (second)
        {
            var docIds = new List<string>();
            for (var i = 0; i < 10; i++)
            {
                var accepted = await _http.PostAsJsonAsync($"{firstUrl}/documents", new { fileUrl = $"{firstUrl}/samples/contract.txt" });
                docIds.Add((await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("docId").GetString()!);
            }

            // Whichever copy ran a document's steps, both copies report it done.
            foreach (var docId in docIds)
            {
                await WaitForStatusAsync(secondUrl, docId, "done");
                await WaitForStatusAsync(firstUrl, docId, "done");
            }

            first.Kill();
            second.Kill();
        }

        Assert.False(File.Exists(Path.Combine(_contentRoot, "a", "baton.db")), "Baton used PostgreSQL, not a SQLite file");
    }

    public void Dispose()
    {
        _http.Dispose();
        try
        {
            Directory.Delete(_contentRoot, recursive: true);
        }
        catch (IOException)
        {
            // A killed process may still hold a file for a moment.
        }
    }

    private long Scalar(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_contentRoot, "baton.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<JsonElement> WaitForStatusAsync(string baseUrl, string docId, string status)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var doc = await _http.GetFromJsonAsync<JsonElement>($"{baseUrl}/documents/{docId}");
            if (doc.GetProperty("status").GetString() == status)
            {
                return doc;
            }

            Assert.True(DateTime.UtcNow < deadline, $"document {docId} reached '{status}' in time; it is {doc}");
            await Task.Delay(50);
        }
    }

    private async Task<(Process Process, string BaseUrl)> StartSampleAsync(int? samePort = null, string? postgres = null, string? contentRoot = null)
    {
        var port = samePort ?? FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var repository = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        var dll = Path.Combine(repository, "samples", "DocumentAnalysis", "bin", configuration, "net10.0", "DocumentAnalysis.dll");
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in new[] { dll, "--urls", baseUrl, "--contentRoot", contentRoot ?? _contentRoot })
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Remove("ANTHROPIC_API_KEY");
        if (postgres is not null)
        {
            info.Environment["BATON_POSTGRES"] = postgres;
        }

        var process = Process.Start(info)!;
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("curl -s -X POST", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.BeginOutputReadLine();
        await ready.Task.WaitAsync(Timeout);
        return (process, baseUrl);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

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
    public async Task Sample_PostDocumentWithoutApproval_IsAnalyzedAndBadInputGetsProblemDetails()
    {
        using var sample = await StartSampleAsync();
        var baseUrl = sample.BaseUrl;
        var docId = await PostDocumentAsync(baseUrl, "contract.txt", requireApproval: false);

        var doc = await WaitForStatusAsync(baseUrl, docId, "done");
        Assert.Contains("Northwind", doc.GetProperty("analysis").GetString(), StringComparison.Ordinal);

        var bad = await _http.PostAsJsonAsync($"{baseUrl}/documents", new { fileUrl = "not a url" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType!.MediaType);
        var missing = await _http.GetAsync($"{baseUrl}/documents/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var approveMissing = await _http.PostAsJsonAsync($"{baseUrl}/documents/nope/approve", new { approver = "x" });
        Assert.Equal(HttpStatusCode.NotFound, approveMissing.StatusCode);
        var approveDone = await _http.PostAsJsonAsync($"{baseUrl}/documents/{docId}/approve", new { approver = "x" });
        Assert.Equal(HttpStatusCode.Conflict, approveDone.StatusCode);
    }

    [Fact]
    public async Task Sample_Document_AwaitsApprovalThenIsApproved_AndAnEarlyApprovalCountsToo()
    {
        using var sample = await StartSampleAsync();
        var baseUrl = sample.BaseUrl;
        var docId = await PostDocumentAsync(baseUrl, "contract.txt");

        var awaiting = await WaitForStatusAsync(baseUrl, docId, "awaiting-approval");
        Assert.Contains("Northwind", awaiting.GetProperty("analysis").GetString(), StringComparison.Ordinal);
        var approve = await _http.PostAsJsonAsync($"{baseUrl}/documents/{docId}/approve", new { approver = "dana" });
        Assert.Equal(HttpStatusCode.Accepted, approve.StatusCode);
        var approved = await WaitForStatusAsync(baseUrl, docId, "approved");
        Assert.Equal("dana", approved.GetProperty("approvedBy").GetString());

        // Approved while the analysis still runs (the fake LLM takes 200 ms): the wait's look-back finds the event.
        var early = await PostDocumentAsync(baseUrl, "incident.txt");
        Assert.Equal(HttpStatusCode.Accepted, (await _http.PostAsJsonAsync($"{baseUrl}/documents/{early}/approve", new { approver = "eve" })).StatusCode);
        Assert.Equal("eve", (await WaitForStatusAsync(baseUrl, early, "approved")).GetProperty("approvedBy").GetString());
    }

    [Fact]
    public async Task Sample_DocumentNotApprovedInTime_Expires()
    {
        using var sample = await StartSampleAsync(environment: new Dictionary<string, string> { ["APPROVAL_TIMEOUT"] = "00:00:02" });
        var docId = await PostDocumentAsync(sample.BaseUrl, "contract.txt");

        await WaitForStatusAsync(sample.BaseUrl, docId, "expired");
        var late = await _http.PostAsJsonAsync($"{sample.BaseUrl}/documents/{docId}/approve", new { approver = "late" });
        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
    }

    [Fact]
    public async Task Sample_Batch_AnalyzesEveryDocumentAndReportsTotals()
    {
        using var sample = await StartSampleAsync();
        var baseUrl = sample.BaseUrl;
        var urls = new[] { $"{baseUrl}/samples/contract.txt", $"{baseUrl}/samples/incident.txt", $"{baseUrl}/samples/no-such-file.txt" };

        var accepted = await _http.PostAsJsonAsync($"{baseUrl}/batches", new { fileUrls = urls });
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var batchId = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("batchId").GetString()!;
        var running = await _http.GetFromJsonAsync<JsonElement>($"{baseUrl}/batches/{batchId}");
        Assert.Equal(3, running.GetProperty("total").GetInt32());

        // The missing file fails after its retries (0.5 s, 1 s, 2 s); the batch then reports it.
        var deadline = DateTime.UtcNow + Timeout;
        JsonElement batch;
        while ((batch = await _http.GetFromJsonAsync<JsonElement>($"{baseUrl}/batches/{batchId}")).GetProperty("status").GetString() != "done")
        {
            Assert.True(DateTime.UtcNow < deadline, $"the batch finished in time; it is {batch}");
            await Task.Delay(50);
        }

        Assert.Equal((3, 2, 1), (batch.GetProperty("total").GetInt32(), batch.GetProperty("succeeded").GetInt32(), batch.GetProperty("failed").GetInt32()));
        Assert.Equal("done", (await _http.GetFromJsonAsync<JsonElement>($"{baseUrl}/documents/{batchId}-0")).GetProperty("status").GetString());

        // The failed document is marked by the analysis's failure handler, a run of its own that may finish after the batch.
        await WaitForStatusAsync(baseUrl, $"{batchId}-2", "failed");

        foreach (var body in new object[] { new { fileUrls = Array.Empty<string>() }, new { fileUrls = new[] { "ftp://x/y" } }, new { } })
        {
            var bad = await _http.PostAsJsonAsync($"{baseUrl}/batches", body);
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType!.MediaType);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync($"{baseUrl}/batches/nope")).StatusCode);
    }

    private async Task<string> PostDocumentAsync(string baseUrl, string file, bool requireApproval = true)
    {
        var accepted = await _http.PostAsJsonAsync($"{baseUrl}/documents", new { fileUrl = $"{baseUrl}/samples/{file}", requireApproval });
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        return (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("docId").GetString()!;
    }

    [Fact]
    public async Task Sample_KilledHalfWay_ResumesAfterRestartAndEveryDocumentIsDone()
    {
        var docIds = new List<string>();
        int port;
        using (var first = await StartSampleAsync())
        {
            port = new Uri(first.BaseUrl).Port;
            for (var i = 0; i < 8; i++)
            {
                docIds.Add(await PostDocumentAsync(first.BaseUrl, "incident.txt", requireApproval: false));
            }

            // The fake LLM takes 200 ms a call: a SIGKILL now lands with runs part-way through their steps.
            first.Kill();
        }

        var unfinished = Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'analyze-document' AND status NOT IN (3, 4, 5)");

        // Same address again: the queued documents' URLs point at the app itself.
        using (var second = await StartSampleAsync(port))
        {
            foreach (var docId in docIds)
            {
                await WaitForStatusAsync(second.BaseUrl, docId, "done");
            }

            // A document is done when its save-result step commits; its run completes a moment later.
            var deadline = DateTime.UtcNow + Timeout;
            while (Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'analyze-document' AND status = 3") < 8)
            {
                Assert.True(DateTime.UtcNow < deadline, "every run completed after its document was saved");
                await Task.Delay(20);
            }

            second.Kill();
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
        using var first = await StartSampleAsync(postgres: postgres, contentRoot: Directory.CreateDirectory(Path.Combine(_contentRoot, "a")).FullName);
        using var second = await StartSampleAsync(postgres: postgres, contentRoot: Directory.CreateDirectory(Path.Combine(_contentRoot, "b")).FullName);
        var docIds = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            docIds.Add(await PostDocumentAsync(first.BaseUrl, "contract.txt", requireApproval: i % 2 == 0));
        }

        // Whichever copy ran a document's steps, both copies report it; an approval sent to either copy reaches the run.
        foreach (var (docId, i) in docIds.Select((d, i) => (d, i)))
        {
            if (i % 2 == 0)
            {
                await WaitForStatusAsync(first.BaseUrl, docId, "awaiting-approval");
                Assert.Equal(HttpStatusCode.Accepted, (await _http.PostAsJsonAsync($"{second.BaseUrl}/documents/{docId}/approve", new { approver = "b" })).StatusCode);
                await WaitForStatusAsync(first.BaseUrl, docId, "approved");
            }
            else
            {
                await WaitForStatusAsync(second.BaseUrl, docId, "done");
                await WaitForStatusAsync(first.BaseUrl, docId, "done");
            }
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

    /// <summary>A running copy of the sample; disposing it kills the process, so a failed assertion leaves none behind.</summary>
    private sealed record Sample(Process Process, string BaseUrl) : IDisposable
    {
        public void Kill()
        {
            if (!Process.HasExited)
            {
                Process.Kill();
                Process.WaitForExit();
            }
        }

        public void Dispose()
        {
            Kill();
            Process.Dispose();
        }
    }

    private async Task<Sample> StartSampleAsync(int? samePort = null, string? postgres = null, string? contentRoot = null, IDictionary<string, string>? environment = null)
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

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
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
        try
        {
            await ready.Task.WaitAsync(Timeout);
        }
        catch
        {
            process.Kill();
            process.Dispose();
            throw;
        }

        return new Sample(process, baseUrl);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

using System.Diagnostics;
using System.Text.Json;

namespace Baton.Samples.Tests;

/// <summary>Runs the benchmark program in its quick mode, so the benchmark cannot rot unnoticed.</summary>
public sealed class BenchmarkSmokeTests : IDisposable
{
    private readonly string _output = Path.Combine(Path.GetTempPath(), "baton-bench-smoke", Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Benchmark_QuickMode_MeasuresEveryScenarioForBatonAndItsPeers()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var repository = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        var dll = Path.Combine(repository, "bench", "Baton.Benchmarks", "bin", configuration, "net10.0", "Baton.Benchmarks.dll");
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { dll, "--quick", "--output", _output })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(8));
        Assert.True(process.ExitCode == 0, $"the benchmark exited with {process.ExitCode}: {await stderr}");

        using var results = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_output, "latest.json")));
        var rows = results.RootElement.EnumerateArray().ToList();
        string[] scenarios = ["storage-limit", "throughput, 1 step", "throughput, 3 steps", "group commit", "latency, in-process", "latency, across processes", "step overhead", "scale"];
        foreach (var scenario in scenarios)
        {
            Assert.Contains(rows, r => r.GetProperty("scenario").GetString()!.StartsWith(scenario, StringComparison.Ordinal) && r.GetProperty("value").ValueKind == JsonValueKind.Number);
        }

        Assert.Contains(rows, r => r.GetProperty("system").GetString() == "Hangfire" && r.GetProperty("storage").GetString() == "Sqlite");
        Assert.Contains(rows, r => r.GetProperty("system").GetString() == "Baton" && r.GetProperty("storage").GetString() == "PostgreSql");
        Assert.All(rows.Where(r => r.GetProperty("system").GetString() is "Baton" or "Hangfire" && r.GetProperty("unit").GetString()!.EndsWith("/s", StringComparison.Ordinal)),
            r => Assert.True(r.GetProperty("value").GetDouble() > 0, $"{r} measured something"));
        foreach (var storage in new[] { "Sqlite", "PostgreSql" })
        {
            // The group-commit ratio divides each repetition by the raw rate measured just before it.
            Assert.Contains(rows, r => r.GetProperty("system").GetString() == "ratio" && r.GetProperty("storage").GetString() == storage
                && r.GetProperty("scenario").GetString()!.Contains("raw batched rows, paired", StringComparison.Ordinal) && r.GetProperty("value").GetDouble() > 0);
        }

        Assert.True(File.Exists(Path.Combine(_output, "latest.md")));
        Assert.Contains("throughput, 3 steps", await stdout, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_output))
        {
            Directory.Delete(_output, recursive: true);
        }
    }
}

// Baton's benchmark: every scenario for Baton and its peers (Hangfire, the raw storage) in one run, on this machine,
// with the same durability on both sides. Prints figures and ratios; writes bench/results/latest.json and latest.md.
//
//   dotnet run -c Release --project bench/Baton.Benchmarks [-- --quick] [--reps N] [--only name,name] [--output DIR]
//       [--storage sqlite|postgresql] [--no-peers] [--runs N] [--checkpoint-runs N]      (narrower runs while profiling)
using Baton.Benchmarks;
using Baton.Benchmarks.Peers;
using Baton.Benchmarks.Scenarios;
using Baton.Tests.Infrastructure;

if (args.Length > 0 && args[0] == "--sender")
{
    await SenderProcess.RunAsync(args);
    return 0;
}

if (args.Length > 0 && args[0] == "--hangfire-sender")
{
    await HangfirePeer.RunSenderAsync(Enum.Parse<PeerStorage>(args[1]), args[2], args[3].Length == 0 ? null : args[3]);
    return 0;
}

const string Usage = """
    usage: dotnet run -c Release --project bench/Baton.Benchmarks [-- options]
      --quick                 smoke run (~40 s; the test suite runs it)
      --reps N                repetitions (default 3)
      --only a,b              subsets: storage-limit throughput group-commit latency step-overhead
                              scale (scale-sleeping, scale-waiters) large-results
      --storage s,s           sqlite, postgresql (inmemory: Hangfire's)
      --no-peers              skip Hangfire
      --runs N                runs per throughput figure
      --checkpoint-runs N     runs in the group-commit scenario
      --output DIR            where latest.json and latest.md go (default bench/results)
    BATON_BENCH_POSTGRES=<connection string> uses that server instead of starting a throwaway one.
    """;
if (Unknown() is { } problem)
{
    Console.Error.WriteLine(problem);
    Console.Error.WriteLine(Usage);
    return 2;
}

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(Usage);
    return 0;
}

var quick = args.Contains("--quick");
var repetitions = Option("--reps") is { } reps ? int.Parse(reps, System.Globalization.CultureInfo.InvariantCulture) : 3;
var only = Option("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var output = Option("--output") ?? Path.Combine(RepositoryRoot(), "bench", "results");
var settings = quick ? BenchSettings.Smoke() : BenchSettings.Full(repetitions);
if (Option("--runs") is { } runs)
{
    settings = settings with { BatonRuns = int.Parse(runs, System.Globalization.CultureInfo.InvariantCulture) };
}

if (Option("--checkpoint-runs") is { } checkpointRuns)
{
    settings = settings with { CheckpointRuns = int.Parse(checkpointRuns, System.Globalization.CultureInfo.InvariantCulture) };
}

var storagesOnly = Option("--storage")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

var work = Directory.CreateTempSubdirectory("baton-bench-").FullName;
var external = Environment.GetEnvironmentVariable("BATON_BENCH_POSTGRES") is { Length: > 0 };
Console.Error.WriteLine(external
    ? $"PostgreSQL: the server BATON_BENCH_POSTGRES names; scratch in {work}"
    : $"Starting a throwaway PostgreSQL server (synchronous_commit=on, fsync=on); scratch in {work}");
await using var postgres = external ? null : await PostgresServer.StartThrowawayAsync();
var connection = Environment.GetEnvironmentVariable("BATON_BENCH_POSTGRES") is { Length: > 0 } given ? given : postgres!.ConnectionString;
var environment = new BenchEnvironment(work, connection);
var runner = new BenchRunner(settings, environment, new HangfirePeer(work, connection), only, storagesOnly, !args.Contains("--no-peers"));
var results = await runner.RunAllAsync();

Console.WriteLine();
Console.WriteLine(Report.Table(results));
await Report.WriteAsync(output, results, settings);
Console.WriteLine($"Results written to {Path.Combine(output, "latest.json")} and latest.md");
try
{
    Directory.Delete(work, recursive: true);
}
catch (IOException)
{
    // Scratch files of a process still closing; the OS cleans temp.
}

return 0;

// A clear error for an option or a subset this program does not know, instead of a full run that ignores it.
string? Unknown()
{
    string[] flags = ["--quick", "--no-peers", "--help", "-h"];
    string[] valued = ["--reps", "--only", "--output", "--runs", "--checkpoint-runs", "--storage"];
    for (var i = 0; i < args.Length; i++)
    {
        if (valued.Contains(args[i]))
        {
            if (++i >= args.Length)
            {
                return $"{args[i - 1]} needs a value.";
            }
        }
        else if (!flags.Contains(args[i]))
        {
            return $"Unknown option '{args[i]}'.";
        }
    }

    var wrong = (Option("--only") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Where(o => !BenchRunner.Subsets.Any(subset => subset.StartsWith(o, StringComparison.OrdinalIgnoreCase))).ToList();
    var wrongStorage = (Option("--storage") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Where(o => !new[] { "sqlite", "postgresql", "inmemory" }.Contains(o, StringComparer.OrdinalIgnoreCase)).ToList();
    return wrong.Count > 0 ? $"Unknown subset '{string.Join("', '", wrong)}' for --only."
        : wrongStorage.Count > 0 ? $"Unknown storage '{string.Join("', '", wrongStorage)}' for --storage."
        : null;
}

string? Option(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

static string RepositoryRoot()
{
    for (var directory = new DirectoryInfo(Directory.GetCurrentDirectory()); directory is not null; directory = directory.Parent)
    {
        if (File.Exists(Path.Combine(directory.FullName, "Baton.slnx")))
        {
            return directory.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}

using Baton.Tests.Infrastructure;

namespace Baton.Tests.Crash;

/// <summary>
/// Checks the ledger the step bodies wrote against the journal: every committed step result names the execution that
/// produced it, and that execution must be the last one in the ledger for its step. An execution after it would be a
/// committed step running again.
/// </summary>
public static class LedgerCheck
{
    /// <summary>The crash worker pads each result past its 1 KiB <c>LargeValueBytes</c>, so every result is stored out of line.</summary>
    private static readonly string Padding = new('~', 1500);

    /// <returns>How many step bodies ran more than once (allowed only before their commit).</returns>
    public static async Task<int> VerifyAsync(string ledger, TestStorage storage, int expectedCommittedSteps)
    {
        await using var store = storage.Create(TimeProvider.System);
        await store.InitializeAsync(default);

        // Every worker process wrote its own file; a machine-wide monotonic timestamp orders them.
        var executions = Lines(ledger)
            .OrderBy(p => p.Timestamp)
            .GroupBy(p => (p.RunId, p.Key))
            .ToDictionary(g => g.Key, g => g.Select(p => p.Execution).ToList());

        // Step outputs are JSON strings: the execution id and its padding in quotes, stored out of line (the journal
        // holds a reference); read back, each must be exactly what its execution returned.
        var committed = storage.Rows("SELECT run_id, key, output FROM steps WHERE kind = 0 AND status = 0");
        Assert.Equal(expectedCommittedSteps, committed.Count);
        var reruns = 0;
        foreach (var step in committed)
        {
            Assert.True(Baton.Engine.LargeValues.TryParse(step[2], out var id, out _), $"step {step[1]} of run {step[0]} is stored inline: {step[2]}");
            var value = Baton.Engine.LargeValues.Decompress((await store.Runs.LoadLargeValueAsync(id, default))!);
            var ran = executions[(step[0], step[1])];
            Assert.Equal($"\"{ran[^1]}{Padding}\"", value);
            reruns += ran.Count - 1;
        }

        return reruns;
    }

    /// <summary>The most executions of step <paramref name="key"/> that ran at the same instant, over every process.</summary>
    public static int MaxOverlap(string ledger, string key) =>
        Spans.MaxOverlap(Directory.GetFiles(Path.GetDirectoryName(ledger)!, Path.GetFileName(ledger) + ".*")
            .SelectMany(File.ReadAllLines)
            .Select(l => l.Split('\t'))
            .Where(p => p[2] == key)
            .Select(p => (long.Parse(p[4], System.Globalization.CultureInfo.InvariantCulture), long.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture))));

    /// <summary>Every line of every process's ledger file.</summary>
    public static List<(long Timestamp, string RunId, string Key, string Execution)> Lines(string ledger) =>
        [.. Directory.GetFiles(Path.GetDirectoryName(ledger)!, Path.GetFileName(ledger) + ".*")
            .SelectMany(File.ReadAllLines)
            .Select(l => l.Split('\t'))
            .Select(p => (long.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture), p[1], p[2], p[3]))];
}

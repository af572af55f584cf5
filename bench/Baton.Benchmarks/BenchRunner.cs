using Baton.Benchmarks.Peers;
using Baton.Benchmarks.Scenarios;

namespace Baton.Benchmarks;

/// <summary>Runs each scenario's repetitions for every system and storage, shows progress, and adds the ratios.</summary>
public sealed class BenchRunner(
    BenchSettings settings,
    BenchEnvironment environment,
    IHangfirePeer hangfire,
    IReadOnlyCollection<string>? only,
    IReadOnlyCollection<string>? storagesOnly = null,
    bool withPeers = true)
{
    /// <summary>The scenarios <c>--only</c> selects from, by name or by the start of one (<c>scale</c>: both scale subsets).</summary>
    public static readonly IReadOnlyList<string> Subsets =
        ["storage-limit", "throughput", "group-commit", "latency", "step-overhead", "scale-sleeping", "scale-waiters", "large-results"];

    private readonly List<Measurement> _results = [];
    private readonly BatonScenarios _baton = new(environment);
    private readonly RawStorage _raw = new(environment);

    public async Task<IReadOnlyList<Measurement>> RunAllAsync()
    {
        // --storage and --no-peers narrow a run while profiling; a full run measures everything for the ratios.
        var storages = new[] { BenchStorage.Sqlite, BenchStorage.PostgreSql }
            .Where(s => storagesOnly is null || storagesOnly.Contains(s.ToString(), StringComparer.OrdinalIgnoreCase)).ToArray();
        var peers = new[] { PeerStorage.InMemory, PeerStorage.Sqlite, PeerStorage.PostgreSql }
            .Where(p => withPeers && (storagesOnly is null || storagesOnly.Contains(p.ToString(), StringComparer.OrdinalIgnoreCase))).ToArray();

        if (Selected("storage-limit"))
        {
            foreach (var storage in storages)
            {
                await MeasureAsync("storage-limit, 1 row/tx", "raw", storage.ToString(), "rows/s", () => _raw.RowsPerSecondAsync(storage, 1, settings.RawDuration));
                await MeasureAsync("storage-limit, 100 rows/tx", "raw", storage.ToString(), "rows/s", () => _raw.RowsPerSecondAsync(storage, 100, settings.RawDuration));
            }
        }

        if (Selected("throughput"))
        {
            foreach (var storage in storages)
            {
                await MeasureAsync("throughput, 1 step", "Baton", storage.ToString(), "runs/s", () => _baton.ThroughputAsync(storage, settings.BatonRuns, 1));
                var three = await MeasureAsync("throughput, 3 steps", "Baton", storage.ToString(), "runs/s", () => _baton.ThroughputAsync(storage, settings.BatonRuns, 3));
                Add(new Measurement("checkpoint writes, in 3-step runs", "Baton", storage.ToString(), three.Value * 3, "writes/s", three.Min * 3, three.Max * 3));
            }

            foreach (var peer in peers)
            {
                var jobs = peer == PeerStorage.InMemory ? settings.HangfireInMemoryJobs : settings.HangfireDurableJobs;
                var chains = peer == PeerStorage.InMemory ? settings.HangfireInMemoryChains : settings.HangfireDurableChains;
                await MeasureAsync("throughput, 1 step", "Hangfire", peer.ToString(), "jobs/s", () => hangfire.FireAndForgetAsync(peer, jobs, CancellationToken.None));
                await MeasureAsync("throughput, 3 steps", "Hangfire", peer.ToString(), "chains/s", () => hangfire.ChainsAsync(peer, chains, CancellationToken.None));
            }
        }

        if (Selected("group-commit"))
        {
            foreach (var storage in storages)
            {
                await MeasureGroupCommitAsync(storage);
            }
        }

        if (Selected("latency"))
        {
            foreach (var storage in storages)
            {
                await MeasurePercentilesAsync("latency, in-process", "Baton", storage.ToString(), () => _baton.LatencyAsync(storage, settings.LatencySamples));
                await MeasurePercentilesAsync("latency, across processes", "Baton", storage.ToString(), () => _baton.CrossProcessLatencyAsync(storage, settings.LatencySamples));
            }

            foreach (var peer in peers)
            {
                await MeasurePercentilesAsync("latency, in-process", "Hangfire", peer.ToString(), () => hangfire.LatencyAsync(peer, settings.LatencySamples, CancellationToken.None));
                if (peer != PeerStorage.InMemory)
                {
                    await MeasurePercentilesAsync("latency, across processes", "Hangfire", peer.ToString(), () => hangfire.CrossProcessLatencyAsync(peer, settings.LatencySamples, CancellationToken.None));
                }
            }
        }

        if (Selected("step-overhead"))
        {
            foreach (var storage in storages)
            {
                await MeasurePercentilesAsync("step overhead", "Baton", storage.ToString(), () => _baton.StepOverheadAsync(storage, settings.OverheadRuns), [50, 95]);
            }
        }

        if (Selected("scale-sleeping"))
        {
            foreach (var storage in storages)
            {
                var memory = new List<double>();
                var burst = new List<double>();
                var spread = new List<double>();
                for (var rep = 1; rep <= Math.Min(settings.Repetitions, 1); rep++)
                {
                    Progress($"scale, {settings.SleepingRuns} sleeping runs due at one moment", "Baton", storage.ToString(), rep, 1);
                    await environment.SettleAsync();
                    var (added, late) = await _baton.SleepingRunsAsync(storage, settings.SleepingRuns, settings.SleepFor, TimeSpan.Zero);
                    memory.Add(added);
                    burst.Add(late);
                    Progress($"scale, {settings.SleepingRuns} sleeping runs due over {settings.WakeSpread.TotalSeconds:0} s", "Baton", storage.ToString(), rep, 1);
                    await environment.SettleAsync();
                    spread.Add((await _baton.SleepingRunsAsync(storage, settings.SleepingRuns, settings.SleepFor, settings.WakeSpread)).MaxLatenessSeconds);
                }

                Add(Summarize($"scale, {settings.SleepingRuns} sleeping runs: memory added", "Baton", storage.ToString(), "MB", memory));
                Add(Summarize($"scale, {settings.SleepingRuns} sleeping runs due at one moment: latest wake after due", "Baton", storage.ToString(), "s", burst));
                Add(Summarize($"scale, {settings.SleepingRuns} sleeping runs due over {settings.WakeSpread.TotalSeconds:0} s: latest wake after due", "Baton", storage.ToString(), "s", spread));
            }
        }

        if (Selected("scale-waiters"))
        {
            foreach (var storage in storages)
            {
                Progress($"scale, resume one waiter by event ({settings.FewWaiters} then {settings.ManyWaiters} waiting)", "Baton", storage.ToString(), 1, 1);
                await environment.SettleAsync();
                var (few, many) = await _baton.WaiterResumeAsync(storage, settings.FewWaiters, settings.ManyWaiters, settings.LatencySamples);
                var withFew = Summarize($"scale, resume one waiter with {settings.FewWaiters} waiting p50", "Baton", storage.ToString(), "ms", [few.Percentile(50)]);
                var withMany = Summarize($"scale, resume one waiter with {settings.ManyWaiters} waiting p50", "Baton", storage.ToString(), "ms", [many.Percentile(50)]);
                Add(withFew);
                Add(withMany);
                Add(new Measurement($"ratio: resume with {settings.ManyWaiters} / with {settings.FewWaiters} waiting (target <= 2)", "Baton", storage.ToString(), withMany.Value / withFew.Value, "x", withMany.Value / withFew.Value, withMany.Value / withFew.Value));
            }
        }

        if (Selected("large-results"))
        {
            foreach (var storage in storages)
            {
                foreach (var inline in new[] { true, false })
                {
                    var design = inline ? "inline (naive)" : "out of line";
                    var perStep = new List<double>();
                    var hot = new List<double>();
                    for (var rep = 1; rep <= settings.Repetitions; rep++)
                    {
                        Progress($"large results, 10 steps x 1 MB, {design}", "Baton", storage.ToString(), rep, settings.Repetitions);
                        await environment.SettleAsync();
                        var (ms, megabytes) = await _baton.LargeResultsAsync(storage, settings.LargeResultRuns, inline);
                        perStep.Add(ms);
                        hot.Add(megabytes);
                    }

                    Add(Summarize($"large results, 10 steps x 1 MB, {design}: time per step", "Baton", storage.ToString(), "ms", perStep));
                    Add(Summarize($"large results, 10 steps x 1 MB, {design}: hot tables", "Baton", storage.ToString(), "MB", hot));
                }
            }
        }

        AddRatios();
        return _results;
    }

    /// <summary>
    /// Baton's checkpoint writes/s, each repetition right after a measurement of the raw batched rate (as in the
    /// storage-limit scenario): the ratio is the median of the pairs' ratios, so the machine's drift over the minutes
    /// between scenarios (the raw rate alone has moved by a fifth between runs here) does not decide it.
    /// </summary>
    private async Task MeasureGroupCommitAsync(BenchStorage storage)
    {
        var scenario = $"group commit, checkpoint writes ({settings.CheckpointRuns} runs of {settings.CheckpointSteps} steps)";
        async Task<(double Raw, double Baton)> PairAsync()
        {
            var raw = await _raw.RowsPerSecondAsync(storage, 100, settings.RawDuration);
            await environment.SettleAsync();
            return (raw, await _baton.CheckpointRateAsync(storage, settings.CheckpointRuns, settings.CheckpointSteps));
        }

        // At least five pairs in a full run: the raw rate alone swings by a quarter from one measurement to the next here
        // (33k-52k rows/s in four runs of a few minutes), and the pairs' median needs more than three to settle.
        var repetitions = settings.Quick ? settings.Repetitions : Math.Max(settings.Repetitions, 5);
        await WarmUpAsync(scenario, "Baton", storage.ToString(), PairAsync);
        var pairs = new List<(double Raw, double Baton)>();
        for (var rep = 1; rep <= repetitions; rep++)
        {
            Progress($"{scenario}, beside the raw batched rate", "Baton", storage.ToString(), rep, repetitions);
            await environment.SettleAsync();
            var (raw, baton) = await PairAsync();
            pairs.Add((raw, baton));
            Console.Error.WriteLine($"      raw {raw:0} rows/s, Baton {baton:0} writes/s: {baton / raw:0.###}x");
        }

        Add(Summarize(scenario, "Baton", storage.ToString(), "writes/s", [.. pairs.Select(p => p.Baton)]));
        Add(Summarize("group commit, raw batched rows beside each repetition (100 rows/tx)", "raw", storage.ToString(), "rows/s", [.. pairs.Select(p => p.Raw)]));
        Add(Summarize($"group commit, {storage}: Baton checkpoint writes / raw batched rows, paired (target 0.5x)", "ratio", storage.ToString(), "x", [.. pairs.Select(p => p.Baton / p.Raw)]));
    }

    private bool Selected(string scenario) =>
        Subsets.Contains(scenario)
            ? only is null || only.Any(o => scenario.StartsWith(o, StringComparison.OrdinalIgnoreCase))
            : throw new InvalidOperationException($"Scenario '{scenario}' is not in BenchRunner.Subsets, so --only would refuse it.");

    private async Task<Measurement> MeasureAsync(string scenario, string system, string storage, string unit, Func<Task<double>> measure)
    {
        await WarmUpAsync(scenario, system, storage, measure);
        var values = new List<double>();
        for (var rep = 1; rep <= settings.Repetitions; rep++)
        {
            Progress(scenario, system, storage, rep, settings.Repetitions);
            await environment.SettleAsync();
            values.Add(await measure());
            Console.Error.WriteLine($"      {values[^1]:0.###} {unit}");
        }

        var measurement = Summarize(scenario, system, storage, unit, values);
        Add(measurement);
        return measurement;
    }

    private async Task MeasurePercentilesAsync(string scenario, string system, string storage, Func<Task<LatencySamples>> measure, double[]? percentiles = null)
    {
        percentiles ??= [50, 95, 99];
        var byPercentile = percentiles.ToDictionary(p => p, _ => new List<double>());
        await WarmUpAsync(scenario, system, storage, measure);
        for (var rep = 1; rep <= settings.Repetitions; rep++)
        {
            Progress(scenario, system, storage, rep, settings.Repetitions);
            await environment.SettleAsync();
            var samples = await measure();
            foreach (var p in percentiles)
            {
                byPercentile[p].Add(samples.Percentile(p));
            }

            Console.Error.WriteLine($"      {string.Join(", ", percentiles.Select(p => $"p{p} {byPercentile[p][^1]:0.###}"))} ms");
        }

        foreach (var (p, values) in byPercentile)
        {
            Add(Summarize($"{scenario} p{p}", system, storage, "ms", values));
        }
    }

    /// <summary>
    /// One untimed run before the repetitions, for every system alike: the first run in a process pays for JIT and
    /// caches (Hangfire.InMemory runs at a third of its speed the first time).
    /// </summary>
    private async Task WarmUpAsync<T>(string scenario, string system, string storage, Func<Task<T>> measure)
    {
        if (!settings.Quick)
        {
            Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {scenario} | {system} on {storage} | warm-up (not counted)");
            await measure();
        }
    }

    private void AddRatios()
    {
        double Value(string scenario, string system, string storage) =>
            _results.FirstOrDefault(m => m.Scenario == scenario && m.System == system && m.Storage == storage)?.Value ?? double.NaN;

        void Ratio(string name, double numerator, double denominator) =>
            Add(new Measurement(name, "ratio", "", numerator / denominator, "x", double.NaN, double.NaN));

        foreach (var scenario in new[] { "throughput, 1 step", "throughput, 3 steps" })
        {
            Ratio($"{scenario}: Baton SQLite / Hangfire SQLite (target 50x for 3 steps)", Value(scenario, "Baton", "Sqlite"), Value(scenario, "Hangfire", "Sqlite"));
            Ratio($"{scenario}: Baton SQLite / Hangfire InMemory (target 1x for 3 steps)", Value(scenario, "Baton", "Sqlite"), Value(scenario, "Hangfire", "InMemory"));
            Ratio($"{scenario}: Baton PostgreSQL / Hangfire PostgreSQL (target 50x for 3 steps)", Value(scenario, "Baton", "PostgreSql"), Value(scenario, "Hangfire", "PostgreSql"));
        }

        foreach (var storage in new[] { "Sqlite", "PostgreSql" })
        {
            var writes = Value($"group commit, checkpoint writes ({settings.CheckpointRuns} runs of {settings.CheckpointSteps} steps)", "Baton", storage);
            Ratio($"group commit, {storage}: Baton checkpoint writes / raw batched rows of the storage-limit scenario", writes, Value("storage-limit, 100 rows/tx", "raw", storage));
            Ratio($"group commit, {storage}: Baton checkpoint writes / raw 1 row per tx", writes, Value("storage-limit, 1 row/tx", "raw", storage));
            Ratio($"group commit, {storage}: checkpoint writes in 3-step runs (claim and end included) / raw batched rows", Value("checkpoint writes, in 3-step runs", "Baton", storage), Value("storage-limit, 100 rows/tx", "raw", storage));

            // Lower is better: Baton's share of Hangfire's time from enqueue (a send, in another process) to the job's start.
            Ratio($"latency across processes p50, {storage}: Baton / Hangfire", Value("latency, across processes p50", "Baton", storage), Value("latency, across processes p50", "Hangfire", storage));

            const string large = "large results, 10 steps x 1 MB";
            Ratio($"{large}, {storage}: time per step, out of line / inline", Value($"{large}, out of line: time per step", "Baton", storage), Value($"{large}, inline (naive): time per step", "Baton", storage));
            Ratio($"{large}, {storage}: hot tables, out of line / inline", Value($"{large}, out of line: hot tables", "Baton", storage), Value($"{large}, inline (naive): hot tables", "Baton", storage));
        }
    }

    private static Measurement Summarize(string scenario, string system, string storage, string unit, List<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToList();
        return sorted.Count == 0
            ? new Measurement(scenario, system, storage, double.NaN, unit, double.NaN, double.NaN)
            : new Measurement(scenario, system, storage, sorted[sorted.Count / 2], unit, sorted[0], sorted[^1]);
    }

    private void Add(Measurement measurement)
    {
        _results.Add(measurement);
        if (measurement.System == "ratio" && double.IsNaN(measurement.Min))
        {
            // A ratio of two figures: shown in the table at the end (unknown when a side was not measured in this run).
            return;
        }

        Console.Error.WriteLine($"    = {measurement.Value:0.###} {measurement.Unit} (min {measurement.Min:0.###}, max {measurement.Max:0.###})");
    }

    private static void Progress(string scenario, string system, string storage, int rep, int reps) =>
        Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {scenario} | {system} on {storage} | repetition {rep}/{reps}");
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Baton.Benchmarks.Peers;

namespace Baton.Benchmarks.Scenarios;

/// <summary>Baton's side of every scenario.</summary>
public sealed class BatonScenarios(BenchEnvironment environment)
{
    /// <summary>
    /// N runs of a function of <paramref name="steps"/> no-op <c>Step.Run</c>s, from event to completion. As for
    /// Hangfire, the work is created before the worker starts; the clock runs from worker start to the last run's end.
    /// </summary>
    public async Task<double> ThroughputAsync(BenchStorage storage, int runs, int steps)
    {
        await using var scratch = environment.NewDatabase(storage, "tp");
        var database = scratch.Name;
        var lastSteps = 0;
        void Functions(BatonBuilder b) => b.AddFunction<JsonElement>("noop", f => f.TriggerOn("bench/go"), async ctx =>
        {
            for (var i = 0; i < steps; i++)
            {
                var n = i;
                await ctx.Step.Run("step", () =>
                {
                    if (n == steps - 1)
                    {
                        Interlocked.Increment(ref lastSteps);
                    }

                    return n;
                });
            }
        });

        await using (var sender = await BatonNode.StartAsync(environment, storage, database, Functions, runWorker: false))
        {
            foreach (var chunk in Enumerable.Range(0, runs).Chunk(1000))
            {
                await sender.Client.SendAsync(chunk.Select(i => new BatonEvent("bench/go", new { i })));
            }
        }

        var clock = Stopwatch.StartNew();
        await using var worker = await BatonNode.StartAsync(environment, storage, database, Functions);
        await DatabaseProbe.WaitUntilDoneAsync(environment, storage, database, TimeSpan.FromSeconds(Math.Max(60, runs / 20)), () => Volatile.Read(ref lastSteps) >= runs);
        return runs / clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Durable checkpoint writes per second with the worker full: <paramref name="runs"/> runs of <paramref name="steps"/>
    /// no-op <c>Step.Run</c>s each (more runs than the worker runs at once, so every slot stays busy and the group-commit
    /// writer always has checkpoints of many runs to share a commit). The clock runs from worker start to the last run's
    /// end, so the runs' claims and ends are paid for in the same time: checkpoints ÷ elapsed.
    /// </summary>
    public async Task<double> CheckpointRateAsync(BenchStorage storage, int runs, int steps) =>
        await ThroughputAsync(storage, runs, steps) * steps;

    /// <summary>
    /// Runs of 10 steps that each return 1 MB of LLM-like text, all started at once: time per step (event to the last
    /// run's end, divided by the steps) and the bytes the hot tables take after them. <paramref name="inline"/> keeps every
    /// result in the journal (the naive design: <c>LargeValueBytes = int.MaxValue</c>); otherwise results over 64 KiB
    /// are stored compressed out of line.
    /// </summary>
    public async Task<(double MsPerStep, double HotTableMegabytes)> LargeResultsAsync(BenchStorage storage, int runs, bool inline)
    {
        const int Steps = 10;
        await using var scratch = environment.NewDatabase(storage, inline ? "lvi" : "lvo");
        var database = scratch.Name;
        var responses = Enumerable.Range(0, Steps).Select(LlmLikeText).ToArray();
        var done = 0;
        void Functions(BatonBuilder b) => b.AddFunction<JsonElement>("pipeline", f => f.TriggerOn("bench/large"), async ctx =>
        {
            var total = 0;
            for (var i = 0; i < Steps; i++)
            {
                var n = i;
                total += (await ctx.Step.Run("generate", () => responses[n])).Length;
            }

            Interlocked.Increment(ref done);
            return total;
        });

        await using var node = await BatonNode.StartAsync(environment, storage, database, Functions, options: o =>
        {
            if (inline)
            {
                o.LargeValueBytes = int.MaxValue;
            }
        });
        var clock = Stopwatch.StartNew();
        await node.Client.SendAsync(Enumerable.Range(0, runs).Select(i => new BatonEvent("bench/large", new { i })));
        await DatabaseProbe.WaitUntilDoneAsync(environment, storage, database, TimeSpan.FromMinutes(10), () => Volatile.Read(ref done) >= runs);
        var elapsed = clock.Elapsed;
        var bytes = await DatabaseProbe.HotTableBytesAsync(environment, storage, database);
        return (elapsed.TotalMilliseconds / (runs * Steps), bytes / 1024.0 / 1024.0);
    }

    /// <summary>About 1 MB of text as an LLM writes it (words and numbers, some non-ASCII), different for each seed.</summary>
    private static string LlmLikeText(int seed)
    {
        var random = new Random(seed);
        string[] words = ["the", "contract", "clause", "liability", "party", "shall", "résumé", "Überblick", "indemnity", "term", "notice", "data"];
        var text = new System.Text.StringBuilder(1_050_000);
        while (text.Length < 1_000_000)
        {
            text.Append(words[random.Next(words.Length)]).Append(' ');
            if (random.Next(12) == 0)
            {
                text.Append(random.Next(100_000)).Append(". ");
            }
        }

        return text.ToString();
    }

    /// <summary>Event sent → first step body starts, on an idle worker in this process.</summary>
    public async Task<LatencySamples> LatencyAsync(BenchStorage storage, int samples)
    {
        await using var scratch = environment.NewDatabase(storage, "lat");
        var database = scratch.Name;
        var started = new ConcurrentDictionary<int, TaskCompletionSource<long>>();
        await using var node = await BatonNode.StartAsync(environment, storage, database, b => b.AddFunction<JsonElement>("first-step", f => f.TriggerOn("bench/ping"), async ctx =>
            await ctx.Step.Run("first", () =>
            {
                var now = Stopwatch.GetTimestamp();
                started.GetOrAdd(ctx.Event.Data.GetProperty("n").GetInt32(), _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(now);
                return now;
            })));

        var latencies = new List<double>();
        for (var n = -3; n < samples; n++)
        {
            var waiter = started.GetOrAdd(n, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
            var sent = Stopwatch.GetTimestamp();
            await node.Client.SendAsync(new BatonEvent("bench/ping", new { n }));
            var at = await waiter.Task.WaitAsync(TimeSpan.FromSeconds(30));
            if (n >= 0)
            {
                // The first three are warm-up.
                latencies.Add(Stopwatch.GetElapsedTime(sent, at).TotalMilliseconds);
            }

            await Task.Delay(Random.Shared.Next(10, 30));
        }

        return new LatencySamples(latencies);
    }

    /// <summary>
    /// Event sent from another process → first step body starts here. Both sides read the machine-wide monotonic clock
    /// (<see cref="Stopwatch.GetTimestamp"/>), so the sender's timestamp travels in the event.
    /// </summary>
    public async Task<LatencySamples> CrossProcessLatencyAsync(BenchStorage storage, int samples)
    {
        await using var scratch = environment.NewDatabase(storage, "xlat");
        var database = scratch.Name;
        var started = new ConcurrentDictionary<int, TaskCompletionSource<double>>();
        await using var node = await BatonNode.StartAsync(environment, storage, database, b => b.AddFunction<JsonElement>("first-step", f => f.TriggerOn("bench/ping"), async ctx =>
            await ctx.Step.Run("first", () =>
            {
                var elapsed = Stopwatch.GetElapsedTime(ctx.Event.Data.GetProperty("ts").GetInt64()).TotalMilliseconds;
                started.GetOrAdd(ctx.Event.Data.GetProperty("n").GetInt32(), _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(elapsed);
                return elapsed;
            })));

        using var sender = SenderProcess.Start(storage, environment, database);
        var latencies = new List<double>();
        for (var n = -3; n < samples; n++)
        {
            var waiter = started.GetOrAdd(n, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
            await sender.SendAsync(n);
            var latency = await waiter.Task.WaitAsync(TimeSpan.FromSeconds(30));
            if (n >= 0)
            {
                latencies.Add(latency);
            }

            await Task.Delay(Random.Shared.Next(10, 30));
        }

        return new LatencySamples(latencies);
    }

    /// <summary>Added time per durable <c>Step.Run</c>: gaps between consecutive no-op step bodies of runs of 100 steps.</summary>
    public async Task<LatencySamples> StepOverheadAsync(BenchStorage storage, int runs)
    {
        await using var scratch = environment.NewDatabase(storage, "ovh");
        var database = scratch.Name;
        var gaps = new ConcurrentBag<double>();
        var done = new ConcurrentDictionary<string, TaskCompletionSource>();
        await using var node = await BatonNode.StartAsync(environment, storage, database, b => b.AddFunction<JsonElement>("hundred", null, async ctx =>
        {
            long previous = 0;
            for (var i = 0; i < 100; i++)
            {
                var now = await ctx.Step.Run("step", Stopwatch.GetTimestamp);
                if (previous != 0 && !ctx.IsReplaying)
                {
                    gaps.Add(Stopwatch.GetElapsedTime(previous, now).TotalMilliseconds);
                }

                previous = now;
            }
        }));

        for (var r = 0; r < runs; r++)
        {
            var runId = await node.Client.TriggerAsync("hundred");
            await node.Client.WaitForRunAsync(runId, TimeSpan.FromSeconds(60));
        }

        return new LatencySamples([.. gaps]);
    }

    /// <summary>
    /// N runs sleeping at once, due at one moment (<paramref name="spread"/> zero: how fast a node drains a burst of
    /// wake-ups) or evenly over <paramref name="spread"/> (how punctual timers are while many sleep): process memory
    /// added while they sleep, and how late the latest one woke. Returns (MB added, seconds of lateness at the 100th
    /// percentile).
    /// </summary>
    public async Task<(double AddedMegabytes, double MaxLatenessSeconds)> SleepingRunsAsync(BenchStorage storage, int runs, TimeSpan sleepFor, TimeSpan spread)
    {
        await using var scratch = environment.NewDatabase(storage, "sleep");
        var database = scratch.Name;
        var lateness = new ConcurrentBag<double>();
        var wakeAt = DateTimeOffset.UtcNow + sleepFor;
        await using var node = await BatonNode.StartAsync(environment, storage, database, b => b.AddFunction<JsonElement>("sleeper", f => f.TriggerOn("bench/sleep"), async ctx =>
        {
            var due = DateTimeOffset.FromUnixTimeMilliseconds(ctx.Event.Data.GetProperty("wakeAt").GetInt64());
            await ctx.Step.SleepUntil("nap", due);
            await ctx.Step.Run("woke", () =>
            {
                lateness.Add((DateTimeOffset.UtcNow - due).TotalSeconds);
                return 0;
            });
        }));

        var before = MemoryMegabytes();
        foreach (var chunk in Enumerable.Range(0, runs).Chunk(1000))
        {
            // Run i is due at wakeAt + spread * i / runs: all at one moment (spread 0), or evenly over the spread.
            await node.Client.SendAsync(chunk.Select(i => new BatonEvent("bench/sleep", new { i, wakeAt = (wakeAt + spread * i / runs).ToUnixTimeMilliseconds() })));
        }

        // All asleep: every run has suspended (none is claimable before the wake time).
        var sleeping = MemoryMegabytes();
        while (DateTimeOffset.UtcNow < wakeAt - TimeSpan.FromSeconds(1))
        {
            sleeping = Math.Max(sleeping, MemoryMegabytes());
            await Task.Delay(250);
        }

        await DatabaseProbe.WaitUntilDoneAsync(environment, storage, database, TimeSpan.FromMinutes(5));
        return (sleeping - before, lateness.IsEmpty ? double.NaN : lateness.Max());
    }

    /// <summary>
    /// Time to resume one run by its event (event sent → the step after the wait starts) with <paramref name="few"/> and
    /// then <paramref name="many"/> runs waiting for events at once, each matched on its own <c>data.i</c>. Returns the
    /// samples with few waiters present and with many.
    /// </summary>
    public async Task<(LatencySamples Few, LatencySamples Many)> WaiterResumeAsync(BenchStorage storage, int few, int many, int samples)
    {
        await using var scratch = environment.NewDatabase(storage, "wait");
        var database = scratch.Name;
        var resumed = new ConcurrentDictionary<int, TaskCompletionSource<long>>();
        await using var node = await BatonNode.StartAsync(environment, storage, database, b => b.AddFunction<JsonElement>("waiter", f => f.TriggerOn("bench/open"), async ctx =>
        {
            await ctx.Step.WaitForEvent<JsonElement>("approval", "bench/approve", TimeSpan.FromHours(1), match: "data.i");
            await ctx.Step.Run("resumed", () =>
            {
                var now = Stopwatch.GetTimestamp();
                resumed.GetOrAdd(ctx.Event.Data.GetProperty("i").GetInt32(), _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(now);
                return 0;
            });
        }));

        async Task OpenAsync(int from, int to)
        {
            foreach (var chunk in Enumerable.Range(from, to - from).Chunk(1000))
            {
                await node.Client.SendAsync(chunk.Select(i => new BatonEvent("bench/open", new { i })));
            }

            // Every run opened so far, but those already resumed, has reached its wait and suspended.
            while (await DatabaseProbe.WaitingRunsAsync(environment, storage, database) < to - resumed.Count)
            {
                await Task.Delay(50);
            }
        }

        async Task<LatencySamples> ResumeAsync(int from, int to)
        {
            var latencies = new List<double>();
            for (var k = -3; k < samples; k++)
            {
                // Spread over the waiters just opened (7919 is prime: no repeats), so no cache holds the one asked for.
                var i = from + (int)((k + 3) * 7919L % (to - from));
                var waiter = resumed.GetOrAdd(i, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
                var sent = Stopwatch.GetTimestamp();
                await node.Client.SendAsync(new BatonEvent("bench/approve", new { i }));
                var at = await waiter.Task.WaitAsync(TimeSpan.FromSeconds(30));
                if (k >= 0)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(sent, at).TotalMilliseconds);
                }

                await Task.Delay(Random.Shared.Next(10, 30));
            }

            return new LatencySamples(latencies);
        }

        await OpenAsync(0, few);
        var withFew = await ResumeAsync(0, few);
        await OpenAsync(few, many);
        var withMany = await ResumeAsync(few, many);
        return (withFew, withMany);
    }

    private static double MemoryMegabytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true) / 1024.0 / 1024.0;
    }
}

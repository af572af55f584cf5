using System.Diagnostics;
using Hangfire;
using Hangfire.States;
using Hangfire.Storage;

namespace Baton.Benchmarks.Peers;

/// <summary>
/// Hangfire 1.8 measured the way <c>shared/research/limits.md</c> §3 did: "fast" settings (100 ms queue poll on the
/// durable storages, 1 s schedule poll), a static no-op job, jobs created before the server starts. Each call builds
/// its own storage, client and server, and disposes them before it returns.
/// </summary>
/// <remarks>
/// Hangfire's serializer settings and log provider are process-wide; they are set once, on first use. The jobs count
/// themselves in static state (<see cref="HangfirePeerJobs"/>), so calls must not run concurrently.
/// </remarks>
public sealed class HangfirePeer : IHangfirePeer
{
    private const int ThroughputWorkers = 4;
    private const int LatencyWorkers = 4;
    private static readonly TimeSpan SchedulePollingInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ProgressPollInterval = TimeSpan.FromMilliseconds(15);
    private static readonly TimeSpan SingleJobTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);
    private static readonly Lock ConfigureLock = new();
    private static bool _configured;

    private readonly string _workDirectory;
    private readonly string? _postgresConnectionString;

    public HangfirePeer(string workDirectory, string? postgresConnectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(workDirectory);
        _workDirectory = workDirectory;
        _postgresConnectionString = postgresConnectionString;
    }

    public async Task<double> FireAndForgetAsync(PeerStorage storage, int jobs, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(jobs);
        await using var scope = await OpenAsync(storage, cancellationToken);
        var client = new BackgroundJobClient(scope.Storage);
        var target = HangfirePeerJobs.Runs + jobs;
        for (var i = 0; i < jobs; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            client.Enqueue(() => HangfirePeerJobs.Run());
        }

        var seconds = await ProcessAsync(scope, target, jobs, ThroughputTimeout(jobs), $"run {jobs} jobs", cancellationToken);
        return jobs / seconds;
    }

    public async Task<double> ChainsAsync(PeerStorage storage, int chains, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chains);
        await using var scope = await OpenAsync(storage, cancellationToken);
        var client = new BackgroundJobClient(scope.Storage);
        var jobs = 3L * chains;
        var target = HangfirePeerJobs.Runs + jobs;
        for (var i = 0; i < chains; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var first = client.Enqueue(() => HangfirePeerJobs.Run());
            var second = client.ContinueJobWith(first, () => HangfirePeerJobs.Run());
            client.ContinueJobWith(second, () => HangfirePeerJobs.Run());
        }

        var seconds = await ProcessAsync(scope, target, jobs, ThroughputTimeout(jobs), $"run {chains} 3-job chains", cancellationToken);
        return chains / seconds;
    }

    public async Task<LatencySamples> LatencyAsync(PeerStorage storage, int samples, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(samples);
        await using var scope = await OpenAsync(storage, cancellationToken);
        var client = new BackgroundJobClient(scope.Storage);
        var server = StartServer(scope, LatencyWorkers);
        try
        {
            using var connection = scope.Storage.GetConnection();

            // Warm up (the first job pays for JIT and connection set-up), then let the workers go idle.
            var warmUpTarget = HangfirePeerJobs.Runs + 1;
            var warmUp = client.Enqueue(() => HangfirePeerJobs.Run());
            await WaitUntilAsync(() => HangfirePeerJobs.Runs >= warmUpTarget && HasSucceeded(connection, warmUp), SingleJobTimeout, scope, "run a warm-up job", cancellationToken);
            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);

            var milliseconds = new List<double>(samples);
            for (var i = 0; i < samples; i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(20, 61)), cancellationToken);
                var enqueuedAt = Stopwatch.GetTimestamp();
                var id = client.Enqueue(() => HangfirePeerJobs.Stamp(enqueuedAt));
                var startedAt = 0L;
                await WaitUntilAsync(() => HangfirePeerJobs.TryTakeStart(enqueuedAt, out startedAt), SingleJobTimeout, scope, $"start latency sample {i + 1}", cancellationToken);
                milliseconds.Add(Stopwatch.GetElapsedTime(enqueuedAt, startedAt).TotalMilliseconds);
                await WaitUntilAsync(() => HasSucceeded(connection, id), SingleJobTimeout, scope, $"complete latency sample {i + 1}", cancellationToken);
            }

            return new LatencySamples(milliseconds);
        }
        finally
        {
            await StopAsync(server);
        }
    }

    public async Task<LatencySamples> CrossProcessLatencyAsync(PeerStorage storage, int samples, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(samples);
        if (storage == PeerStorage.InMemory)
        {
            throw new ArgumentOutOfRangeException(nameof(storage), storage, "Hangfire.InMemory cannot be shared by two processes.");
        }

        await using var scope = await OpenAsync(storage, cancellationToken);
        var server = StartServer(scope, LatencyWorkers);
        try
        {
            using var sender = Scenarios.SenderProcess.StartHangfire(storage, scope.Locator!, _postgresConnectionString);
            var milliseconds = new List<double>(samples);

            // Three warm-up samples (JIT and connections on both sides), then the measured ones, each on an idle server.
            for (var i = -3; i < samples; i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(20, 61)), cancellationToken);
                var enqueuedAt = long.Parse(await sender.SendAsync(i), System.Globalization.CultureInfo.InvariantCulture);
                var startedAt = 0L;
                await WaitUntilAsync(() => HangfirePeerJobs.TryTakeStart(enqueuedAt, out startedAt), SingleJobTimeout, scope, $"start cross-process latency sample {i + 4}", cancellationToken);
                if (i >= 0)
                {
                    milliseconds.Add(Stopwatch.GetElapsedTime(enqueuedAt, startedAt).TotalMilliseconds);
                }
            }

            return new LatencySamples(milliseconds);
        }
        finally
        {
            await StopAsync(server);
        }
    }

    /// <summary>The sender's side of <see cref="CrossProcessLatencyAsync"/>: enqueues a stamped job per request; answers with its stamp.</summary>
    internal static async Task RunSenderAsync(PeerStorage storage, string locator, string? postgresConnectionString)
    {
        EnsureConfigured();
        var client = new BackgroundJobClient(HangfireStorageScope.Open(storage, locator, postgresConnectionString));
        Console.WriteLine("ready");
        while (await Console.In.ReadLineAsync() is not null)
        {
            // Stopwatch timestamps are the machine's monotonic clock: comparable across processes.
            var enqueuedAt = Stopwatch.GetTimestamp();
            client.Enqueue(() => HangfirePeerJobs.Stamp(enqueuedAt));
            Console.WriteLine($"ok {enqueuedAt.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }
    }

    /// <summary>Starts a server on jobs already enqueued and times it until <paramref name="jobs"/> have run and succeeded.</summary>
    private static async Task<double> ProcessAsync(
        HangfireStorageScope scope, long targetRuns, long jobs, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var monitoring = scope.Storage.GetMonitoringApi();
        var start = Stopwatch.GetTimestamp();
        var server = StartServer(scope, ThroughputWorkers);
        try
        {
            // The counter is cheap; the monitoring API queries the storage, so it is asked only once the jobs have run.
            await WaitUntilAsync(
                () => HangfirePeerJobs.Runs >= targetRuns && monitoring.SucceededListCount() >= jobs, timeout, scope, what, cancellationToken);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        finally
        {
            await StopAsync(server);
        }
    }

    private async Task<HangfireStorageScope> OpenAsync(PeerStorage storage, CancellationToken cancellationToken)
    {
        EnsureConfigured();
        return await HangfireStorageScope.CreateAsync(storage, _workDirectory, _postgresConnectionString, cancellationToken);
    }

    private static BackgroundJobServer StartServer(HangfireStorageScope scope, int workers) =>
        new(
            new BackgroundJobServerOptions
            {
                ServerName = "baton-bench-" + Guid.NewGuid().ToString("N")[..8],
                WorkerCount = workers,
                SchedulePollingInterval = SchedulePollingInterval,
                ShutdownTimeout = ShutdownTimeout,
            },
            scope.Storage);

    private static async Task StopAsync(BackgroundJobServer server)
    {
        // Cleanup runs even when the caller cancelled, so it has its own deadline.
        server.SendStop();
        using var deadline = new CancellationTokenSource(ShutdownTimeout);
        try
        {
            await server.WaitForShutdownAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            // Dispose below waits (bounded by ShutdownTimeout) and abandons what is left.
        }

        server.Dispose();
    }

    private static bool HasSucceeded(IStorageConnection connection, string jobId) =>
        connection.GetJobData(jobId)?.State == SucceededState.StateName;

    private static async Task WaitUntilAsync(
        Func<bool> condition, TimeSpan timeout, HangfireStorageScope scope, string what, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(start) > timeout)
            {
                throw new TimeoutException($"Hangfire on {scope.Description} did not {what} within {timeout.TotalSeconds:0} s.");
            }

            await Task.Delay(ProgressPollInterval, cancellationToken);
        }
    }

    /// <summary>
    /// At least 60 s, and 20 jobs/s at the slowest: the research saw ~100 jobs/s on SQLite and PostgreSQL at N = 2k, but
    /// only 42 jobs/s on PostgreSQL at N = 10k (its fetch query sorts the whole queue).
    /// </summary>
    private static TimeSpan ThroughputTimeout(long jobs) => TimeSpan.FromSeconds(Math.Max(60, jobs / 20.0));

    private static void EnsureConfigured()
    {
        lock (ConfigureLock)
        {
            if (_configured)
            {
                return;
            }

            GlobalConfiguration.Configuration
                .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings()
                .UseLogProvider(new HangfireErrorLog());
            _configured = true;
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;

namespace Baton.Benchmarks.Peers;

/// <summary>
/// The jobs <see cref="HangfirePeer"/> enqueues. Hangfire only invokes public methods, so these are public statics;
/// the state they touch is process-wide, which is why the peer's calls must not run concurrently.
/// </summary>
public static class HangfirePeerJobs
{
    private static readonly ConcurrentDictionary<long, long> _started = new();
    private static long _runs;

    /// <summary>How many <see cref="Run"/> jobs have run in this process.</summary>
    public static long Runs => Interlocked.Read(ref _runs);

    /// <summary>The no-op job: counts itself and returns.</summary>
    public static void Run() => Interlocked.Increment(ref _runs);

    /// <summary>The latency job: records when it started, keyed by the <see cref="Stopwatch"/> timestamp taken at enqueue.</summary>
    public static void Stamp(long enqueuedAt) => _started[enqueuedAt] = Stopwatch.GetTimestamp();

    /// <summary>Takes the start timestamp of the <see cref="Stamp"/> job enqueued at <paramref name="enqueuedAt"/>, if it has started.</summary>
    internal static bool TryTakeStart(long enqueuedAt, out long startedAt) => _started.TryRemove(enqueuedAt, out startedAt);
}

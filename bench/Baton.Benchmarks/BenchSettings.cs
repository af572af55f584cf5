namespace Baton.Benchmarks;

/// <summary>Sizes and repetitions: the full benchmark, or the quick smoke version the test suite runs.</summary>
public sealed record BenchSettings(
    bool Quick,
    int Repetitions,
    int BatonRuns,
    int HangfireInMemoryJobs,
    int HangfireDurableJobs,
    int HangfireInMemoryChains,
    int HangfireDurableChains,
    int LatencySamples,
    int OverheadRuns,
    TimeSpan RawDuration,
    int SleepingRuns,
    TimeSpan SleepFor,
    TimeSpan WakeSpread,
    int FewWaiters,
    int ManyWaiters,
    int LargeResultRuns,
    int CheckpointRuns,
    int CheckpointSteps)
{
    public static BenchSettings Full(int repetitions) =>
        new(false, repetitions, 10_000, 5000, 1000, 1000, 200, 50, 5, TimeSpan.FromSeconds(2), 100_000, TimeSpan.FromSeconds(150), TimeSpan.FromSeconds(100), 1_000, 100_000, 20, 2_000, 20);

    public static BenchSettings Smoke() =>
        new(true, 1, 200, 200, 50, 50, 10, 5, 1, TimeSpan.FromMilliseconds(300), 300, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(3), 20, 200, 2, 60, 5);
}

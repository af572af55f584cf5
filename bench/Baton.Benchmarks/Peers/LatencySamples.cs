namespace Baton.Benchmarks.Peers;

/// <summary>Latency samples in milliseconds, with the percentiles the report prints.</summary>
public sealed class LatencySamples(IReadOnlyList<double> milliseconds)
{
    public IReadOnlyList<double> Milliseconds { get; } = milliseconds;

    public double Percentile(double p)
    {
        if (Milliseconds.Count == 0)
        {
            return double.NaN;
        }

        var sorted = Milliseconds.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}

namespace Baton.Tests.Infrastructure;

/// <summary>Time spans (start, end) recorded by step bodies, on the machine's monotonic clock.</summary>
public static class Spans
{
    /// <summary>The most spans open at one instant (a span ending as another starts does not overlap it).</summary>
    public static int MaxOverlap(IEnumerable<(long Start, long End)> spans)
    {
        var edges = spans
            .SelectMany(s => new[] { (At: s.Start, Delta: 1), (At: s.End, Delta: -1) })
            .OrderBy(e => e.At).ThenBy(e => e.Delta);
        int open = 0, max = 0;
        foreach (var (_, delta) in edges)
        {
            open += delta;
            max = Math.Max(max, open);
        }

        return max;
    }
}

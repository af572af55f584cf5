namespace Baton.Storage;

/// <summary>
/// A generic cell rate algorithm (GCRA) applied to one run at its creation: one run per <paramref name="Interval"/>,
/// with <paramref name="Tolerance"/> of burst, per <paramref name="Key"/> of the function. A rate limit drops a run that
/// does not conform; a throttle delays it until it does.
/// </summary>
public sealed record RateRule(string Key, TimeSpan Interval, TimeSpan Tolerance, bool Drop)
{
    /// <summary>For a stored theoretical arrival time (or none) and a request at <paramref name="now"/>: whether it may go (a drop rule), when it may start, and the new theoretical arrival time.</summary>
    public (bool Allowed, DateTimeOffset StartAt, DateTimeOffset NewTat) Apply(DateTimeOffset? tat, DateTimeOffset now)
    {
        var arrival = tat is { } t && t > now ? t : now;
        if (Drop)
        {
            return arrival - now <= Tolerance ? (true, now, arrival + Interval) : (false, now, tat ?? now);
        }

        var start = arrival - Tolerance > now ? arrival - Tolerance : now;
        return (true, start, arrival + Interval);
    }
}

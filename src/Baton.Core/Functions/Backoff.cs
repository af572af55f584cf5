namespace Baton;

/// <summary>How long to wait before a retry. Build one with <see cref="Exponential"/>, <see cref="Fixed"/> or <see cref="Schedule"/>.</summary>
public abstract class Backoff
{
    /// <summary>The default: exponential from 1 s, doubling, capped at 10 min, with jitter.</summary>
    public static Backoff Default { get; } = Exponential(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));

    /// <summary>
    /// Doubling (or <paramref name="factor"/>) delays from <paramref name="initial"/> up to <paramref name="max"/>. With
    /// <paramref name="jitter"/>, each delay is drawn between half and all of its nominal value, so that many runs
    /// failing together do not retry together.
    /// </summary>
    public static Backoff Exponential(TimeSpan initial, TimeSpan max, double factor = 2, bool jitter = true) =>
        new ExponentialBackoff(initial, max, factor, jitter);

    /// <summary>The same delay before every retry.</summary>
    public static Backoff Fixed(TimeSpan delay) => new ScheduleBackoff([delay]);

    /// <summary>An explicit schedule: the n-th retry waits <c>delays[n-1]</c>; retries past the end reuse the last.</summary>
    public static Backoff Schedule(params TimeSpan[] delays) => new ScheduleBackoff(delays);

    /// <summary>The delay before retry number <paramref name="retry"/> (1 for the first retry).</summary>
    public abstract TimeSpan GetDelay(int retry);

    /// <summary>Describes what is wrong with this policy, or returns nothing when it is valid.</summary>
    public abstract IEnumerable<string> Validate();

    private sealed class ExponentialBackoff(TimeSpan initial, TimeSpan max, double factor, bool jitter) : Backoff
    {
        public override TimeSpan GetDelay(int retry)
        {
            var nominal = initial.TotalMilliseconds * Math.Pow(factor, Math.Max(0, retry - 1));
            var capped = Math.Min(nominal, max.TotalMilliseconds);
            if (jitter)
            {
                // Equal jitter: never less than half the nominal delay, so backoff still grows.
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
                capped = (capped / 2) + (Random.Shared.NextDouble() * capped / 2);
#pragma warning restore CA5394
            }

            return TimeSpan.FromMilliseconds(capped);
        }

        public override IEnumerable<string> Validate()
        {
            if (initial < TimeSpan.Zero)
            {
                yield return $"the exponential backoff's initial delay is {initial}; it must not be negative";
            }

            if (max < initial)
            {
                yield return $"the exponential backoff's max delay ({max}) is below its initial delay ({initial})";
            }

            if (!(factor >= 1) || double.IsInfinity(factor))
            {
                yield return $"the exponential backoff's factor is {factor}; it must be a finite number of at least 1";
            }
        }

        public override string ToString() => $"exponential({initial}..{max}, x{factor}{(jitter ? ", jitter" : "")})";
    }

    private sealed class ScheduleBackoff(TimeSpan[] delays) : Backoff
    {
        public override TimeSpan GetDelay(int retry) => delays[Math.Clamp(retry - 1, 0, delays.Length - 1)];

        public override IEnumerable<string> Validate()
        {
            if (delays is null || delays.Length == 0)
            {
                yield return "the backoff schedule is empty; give at least one delay";
                yield break;
            }

            foreach (var delay in delays.Where(d => d < TimeSpan.Zero))
            {
                yield return $"the backoff schedule contains a negative delay ({delay})";
            }
        }

        public override string ToString() => "schedule(" + string.Join(", ", delays) + ")";
    }
}

namespace Baton;

/// <summary>Options for starting a run by id (<c>TriggerAsync</c>).</summary>
public sealed class TriggerOptions
{
    /// <summary>
    /// Starts at most one run for this key within <see cref="IdempotencyWindow"/>: a second call with the same key
    /// returns the first run's id and starts nothing.
    /// </summary>
    public string? IdempotencyKey { get; set; }

    /// <summary>How long an <see cref="IdempotencyKey"/> is remembered. Default: 24 hours.</summary>
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>The run expires (status <c>expired</c>, never runs) if no worker starts it within this long.</summary>
    public TimeSpan? Ttl { get; set; }

    /// <summary>Seconds the run jumps ahead (positive) or falls behind (negative) in its queue, instead of the function's priority; -600..600.</summary>
    public int? Priority { get; set; }

    /// <summary>Tags to find the run by (up to 10, each up to 128 characters).</summary>
    public IList<string> Tags { get; } = [];

    /// <summary>The queue the run waits in, instead of its function's.</summary>
    public string? Queue { get; set; }

    /// <summary>The run starts no earlier than this long from now.</summary>
    public TimeSpan? Delay { get; set; }
}

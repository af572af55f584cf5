namespace Baton;

/// <summary>
/// Throw from a step or a function to retry at a given time instead of after the configured backoff, for example when
/// an API answered 429 with a <c>Retry-After</c> header. The attempt still counts against the retries.
/// </summary>
public class RetryAfterException : Exception
{
    /// <summary>Retry after the given delay.</summary>
    public RetryAfterException(string message, TimeSpan delay, Exception? innerException = null)
        : base(message, innerException)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        Delay = delay;
    }

    /// <summary>Retry at the given time.</summary>
    public RetryAfterException(string message, DateTimeOffset retryAt, Exception? innerException = null)
        : base(message, innerException)
    {
        RetryAt = retryAt;
    }

    /// <summary>The delay before the next attempt, when given as a delay.</summary>
    public TimeSpan? Delay { get; }

    /// <summary>The time of the next attempt, when given as a time.</summary>
    public DateTimeOffset? RetryAt { get; }

    internal DateTimeOffset NextAttemptAt(DateTimeOffset now) => RetryAt ?? now + (Delay ?? TimeSpan.Zero);
}

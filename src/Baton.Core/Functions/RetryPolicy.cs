namespace Baton;

/// <summary>How often a step or a function is retried, and how long it waits in between.</summary>
/// <param name="Retries">Retries after the first attempt; 0 means one attempt only.</param>
/// <param name="Backoff">The delay before each retry.</param>
public sealed record RetryPolicy(int Retries, Backoff Backoff)
{
    /// <summary>The most retries a policy may ask for.</summary>
    public const int MaxRetries = 1000;

    /// <summary>Attempts in all: the first plus the retries.</summary>
    public int MaxAttempts => Retries + 1;

    internal IEnumerable<string> Validate(string owner)
    {
        if (Retries is < 0 or > MaxRetries)
        {
            yield return $"{owner}: retries is {Retries}; it must be between 0 and {MaxRetries}";
        }

        if (Backoff is null)
        {
            yield return $"{owner}: backoff is null; use Backoff.Exponential(...), Backoff.Fixed(...) or Backoff.Schedule(...)";
            yield break;
        }

        foreach (var problem in Backoff.Validate())
        {
            yield return $"{owner}: {problem}";
        }
    }
}

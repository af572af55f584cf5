namespace Baton.Storage;

/// <summary>Durable, idempotent event intake.</summary>
public interface IEventStore
{
    /// <summary>
    /// Appends events atomically with the runs each starts. An event whose id is already stored is skipped together with
    /// its runs; a run whose idempotency key is taken is not created. Returns, per event, whether it was new, and the runs
    /// created. Returns only once the write is durable.
    /// </summary>
    Task<AppendResult> AppendAsync(IReadOnlyList<EventAppend> events, CancellationToken cancellationToken);

    /// <summary>Reads one event, or null.</summary>
    Task<EventRecord?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Accepted events, newest first (received_at, then id, both descending), optionally of one name, after the position
    /// (<paramref name="afterReceivedAt"/>, <paramref name="afterId"/>) when given.
    /// </summary>
    Task<IReadOnlyList<EventRecord>> ListAsync(string? name, DateTimeOffset? afterReceivedAt, string? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// What the given events did: each run they started (with its status) and each run they did not start, with why.
    /// Ordered by event, then runs newest first.
    /// </summary>
    Task<IReadOnlyList<EventOutcome>> GetOutcomesAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken);
}

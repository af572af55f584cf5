namespace Baton;

/// <summary>An event to send to Baton: a name, a JSON-serializable payload, and an optional id and timestamp.</summary>
/// <remarks>
/// An event with an <see cref="Id"/> is accepted once: sending the same id again is a no-op that returns the same id and
/// starts no new runs. Without an id, Baton assigns one.
/// </remarks>
/// <param name="Name">The event name, such as <c>doc/uploaded</c>. Functions trigger on it.</param>
/// <param name="Data">The payload, serialized with the options' <see cref="BatonOptions.JsonSerializerOptions"/>.</param>
public sealed record BatonEvent(string Name, object? Data = null)
{
    /// <summary>An idempotency id for the event; a repeated id is accepted once.</summary>
    public string? Id { get; init; }

    /// <summary>When the event happened; defaults to the time Baton received it.</summary>
    public DateTimeOffset? Timestamp { get; init; }
}

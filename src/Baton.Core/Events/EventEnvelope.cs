using System.Text.Json;

namespace Baton;

/// <summary>An event as a function receives it: its id, name, timestamp, typed payload and the raw JSON.</summary>
/// <typeparam name="TData">The payload type the function declared.</typeparam>
public sealed class EventEnvelope<TData>
{
    internal EventEnvelope(string id, string name, DateTimeOffset timestamp, TData data, JsonElement rawData)
    {
        Id = id;
        Name = name;
        Timestamp = timestamp;
        Data = data;
        RawData = rawData;
    }

    /// <summary>The event id (assigned by Baton when the sender gave none).</summary>
    public string Id { get; }

    /// <summary>The event name.</summary>
    public string Name { get; }

    /// <summary>When the event happened.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>The payload, deserialized to the function's event type.</summary>
    public TData Data { get; }

    /// <summary>The payload as raw JSON.</summary>
    public JsonElement RawData { get; }
}

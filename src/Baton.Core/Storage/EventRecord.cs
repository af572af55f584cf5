namespace Baton.Storage;

/// <summary>An event as stored: the payload is raw JSON text.</summary>
public sealed record EventRecord(string Id, string Name, string DataJson, DateTimeOffset Timestamp, DateTimeOffset ReceivedAt);

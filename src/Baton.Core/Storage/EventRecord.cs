namespace Baton.Storage;

/// <summary>An event as stored: the payload is raw JSON text.</summary>
/// <remarks>
/// An event read back from storage whose data is stored out of line has <see cref="DataJson"/> as stored (a reference
/// object, see <see cref="LargeEventData"/>) until something expands it.
/// </remarks>
public sealed record EventRecord(string Id, string Name, string DataJson, DateTimeOffset Timestamp, DateTimeOffset ReceivedAt)
{
    /// <summary>
    /// What is written for the data when it differs from <see cref="DataJson"/>: a reference to it stored out of line.
    /// Storage writes this and evaluates matches and conditions on <see cref="DataJson"/>.
    /// </summary>
    public string? StoredDataJson { get; init; }

    /// <summary>The data as written to storage.</summary>
    public string StoredData => StoredDataJson ?? DataJson;
}

using System.Text.Json;

namespace Baton;

/// <summary>An accepted event, and the runs it started.</summary>
/// <param name="Id">The event id.</param>
/// <param name="Name">The event name.</param>
/// <param name="Data">The payload.</param>
/// <param name="Timestamp">When it happened (as sent, or when it was received).</param>
/// <param name="ReceivedAt">When Baton accepted it.</param>
/// <param name="RunIds">The runs it started, newest first.</param>
public sealed record EventInfo(string Id, string Name, JsonElement Data, DateTimeOffset Timestamp, DateTimeOffset ReceivedAt, IReadOnlyList<string> RunIds)
{
    /// <summary>The runs it started, newest first, with their functions and statuses.</summary>
    public IReadOnlyList<EventRunInfo> Runs { get; init; } = [];

    /// <summary>The functions listening to it that it started no run of, and why.</summary>
    public IReadOnlyList<SkippedRunInfo> Skipped { get; init; } = [];

    /// <summary>
    /// The size in bytes of data larger than <see cref="BatonOptions.LargeValueBytes"/>, stored out of line; null for data
    /// stored inline. A list of events leaves such data out (<see cref="Data"/> is JSON null); reading the event by id
    /// reads it.
    /// </summary>
    public long? DataBytes { get; init; }
}

/// <summary>A page of events, newest first, and the cursor of the next page (null: no more).</summary>
public sealed record EventPage(IReadOnlyList<EventInfo> Events, string? NextCursor);

namespace Baton.Storage;

/// <summary>An event to append together with the runs it starts; the runs are created only if the event id is new.</summary>
public sealed record EventAppend(EventRecord Event, IReadOnlyList<NewRun> Runs);

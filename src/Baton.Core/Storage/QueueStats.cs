namespace Baton.Storage;

/// <summary>
/// A queue's unfinished runs now: <paramref name="Ready"/> (due, waiting for a worker), <paramref name="Running"/>
/// (leased by a worker), <paramref name="Later"/> (delayed, sleeping, waiting or retrying later), and whether it is paused.
/// </summary>
public sealed record QueueStats(string Name, long Ready, long Running, long Later, bool Paused);

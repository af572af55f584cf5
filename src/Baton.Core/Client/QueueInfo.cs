namespace Baton;

/// <summary>
/// A queue (worker pool) now: its unfinished runs that are <paramref name="Ready"/> (due, waiting for a worker),
/// <paramref name="Running"/>, or due <paramref name="Later"/> (delayed, sleeping, waiting or retrying), and whether it is
/// paused.
/// </summary>
public sealed record QueueInfo(string Name, long Ready, long Running, long Later, bool Paused);

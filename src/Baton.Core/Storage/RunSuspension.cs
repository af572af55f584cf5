namespace Baton.Storage;

/// <summary>How a suspended run goes back to the queue: when it is due, its status meanwhile, and its attempt.</summary>
public sealed record RunSuspension(DateTimeOffset WakeAt, RunStatus Status, int Attempt);

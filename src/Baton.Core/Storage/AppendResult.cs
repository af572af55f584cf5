namespace Baton.Storage;

/// <summary>What an append wrote: per event whether it was new, and the runs it created (in order).</summary>
/// <remarks>A run is not created when its event was a repeat, or when its idempotency key is taken within the window.</remarks>
public sealed record AppendResult(IReadOnlyList<bool> Accepted, IReadOnlyList<string> CreatedRuns);

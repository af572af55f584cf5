namespace Baton.Storage;

/// <summary>
/// Proof of ownership of a claimed run. <paramref name="Token"/> grows with every claim, starting at 1 for the first,
/// so a write carrying an old token is refused (fencing) once another worker has claimed the run.
/// </summary>
public readonly record struct RunLease(string RunId, string Owner, long Token);

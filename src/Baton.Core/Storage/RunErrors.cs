namespace Baton.Storage;

/// <summary>
/// The errors storage records on runs it ends or resolves by itself (cancellations, a child's end), written the same way
/// by every provider.
/// </summary>
internal static class RunErrors
{
    /// <summary>A run a cancel rule cancelled: which event did it.</summary>
    public static RunError CancelledByEvent(EventRecord record) =>
        new("Baton.RunCancelled", $"Cancelled by event '{record.Name}' ({record.Id}).");

    /// <summary>A singleton's run that a newer run replaced.</summary>
    public static RunError SingletonReplaced(string newRunId) =>
        new("Baton.RunCancelled", $"Replaced by run {newRunId} (singleton, mode cancel).");

    /// <summary>A descendant cancelled with its ancestor <paramref name="runId"/>.</summary>
    public static RunError ParentCancelled(string runId, RunError reason) =>
        new("Baton.ParentCancelled", $"Cancelled with its parent run {runId}: {reason.Message}");

    /// <summary>The error a parent sees for a child that did not complete.</summary>
    public static RunError ChildEnded(string childRunId, RunStatus status, RunError? error) =>
        error ?? new RunError("Baton.ChildRunEnded", $"Child run {childRunId} ended {status.ToWireName()}.");
}

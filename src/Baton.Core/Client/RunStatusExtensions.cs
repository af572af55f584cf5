namespace Baton;

/// <summary>Helpers for <see cref="RunStatus"/>.</summary>
public static class RunStatusExtensions
{
    /// <summary>True for statuses a run never leaves: completed, failed, cancelled.</summary>
    public static bool IsTerminal(this RunStatus status) =>
        status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled;

    /// <summary>The lowercase name used in JSON and on the wire (<c>queued</c>, <c>running</c>, ...).</summary>
    public static string ToWireName(this RunStatus status) => status switch
    {
        RunStatus.Queued => "queued",
        RunStatus.Running => "running",
        RunStatus.Waiting => "waiting",
        RunStatus.Completed => "completed",
        RunStatus.Failed => "failed",
        RunStatus.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };
}

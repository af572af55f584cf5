namespace Baton;

/// <summary>Helpers for <see cref="RunStatus"/>.</summary>
public static class RunStatusExtensions
{
    /// <summary>True for statuses a run never leaves: completed, failed, cancelled, expired, timed out.</summary>
    public static bool IsTerminal(this RunStatus status) =>
        status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled or RunStatus.Expired or RunStatus.TimedOut;

    /// <summary>The lowercase name used in JSON and on the wire (<c>queued</c>, <c>running</c>, ...).</summary>
    public static string ToWireName(this RunStatus status) => status switch
    {
        RunStatus.Queued => "queued",
        RunStatus.Running => "running",
        RunStatus.Waiting => "waiting",
        RunStatus.Completed => "completed",
        RunStatus.Failed => "failed",
        RunStatus.Cancelled => "cancelled",
        RunStatus.WaitingForEvent => "waiting-for-event",
        RunStatus.WaitingForChildren => "waiting-for-children",
        RunStatus.Expired => "expired",
        RunStatus.TimedOut => "timed-out",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    /// <summary>The status for a wire name (the inverse of <see cref="ToWireName"/>).</summary>
    /// <exception cref="ArgumentException">The name is not a status.</exception>
    public static RunStatus FromWireName(string name) =>
        Enum.GetValues<RunStatus>().FirstOrDefault(s => s.ToWireName() == name) is var status && status.ToWireName() == name
            ? status
            : throw new ArgumentException($"'{name}' is not a run status; use one of {string.Join(", ", Enum.GetValues<RunStatus>().Select(s => s.ToWireName()))}.", nameof(name));
}

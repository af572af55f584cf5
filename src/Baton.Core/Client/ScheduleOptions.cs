namespace Baton;

/// <summary>How a schedule created through the client reads its expression, and what it is associated with.</summary>
public sealed record ScheduleOptions
{
    /// <summary>The IANA time zone the expression is read in. Default: UTC.</summary>
    public string? TimeZone { get; init; }

    /// <summary>What the application associates with the schedule (a user, a tenant); its runs get it in their <see cref="CronTick"/>.</summary>
    public string? ExternalId { get; init; }

    /// <summary>
    /// Creating a schedule with the key of an existing one updates that one instead of adding another (at most 256
    /// characters). Without a key, every call adds a schedule.
    /// </summary>
    public string? DeduplicationKey { get; init; }

    /// <summary>What happens to slots missed while no node ran. Default: skip them.</summary>
    public MissedSlots Missed { get; init; } = MissedSlots.Skip;
}

namespace Baton.Storage;

/// <summary>
/// A cron schedule as stored: <paramref name="Id"/>, its function, expression, time zone, missed-slot policy, and the
/// next slot to fire (<paramref name="NextAt"/>). Schedules in code have ids <c>{functionId}#{index}</c> and are
/// replaced at each start; schedules created through the client (<see cref="FromCode"/> false) are kept until deleted.
/// </summary>
public sealed record ScheduleRecord(string Id, string FunctionId, string Cron, string TimeZone, MissedSlots Missed, DateTimeOffset NextAt)
{
    /// <summary>Whether the schedule is declared in code (<c>TriggerOnCron</c>) rather than created through the client.</summary>
    public bool FromCode { get; init; } = true;

    /// <summary>What the application associates with the schedule (a user, a tenant); given to its runs.</summary>
    public string? ExternalId { get; init; }

    /// <summary>A key that makes creating the schedule again update it instead of adding another.</summary>
    public string? DeduplicationKey { get; init; }

    /// <summary>A paused schedule fires nothing until resumed.</summary>
    public bool Paused { get; init; }

    /// <summary>When the schedule was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

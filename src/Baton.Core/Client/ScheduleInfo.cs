namespace Baton;

/// <summary>A cron schedule: declared in code (<c>TriggerOnCron</c>) or created through the client.</summary>
/// <param name="Id">The schedule's id (<c>{functionId}#{index}</c> for schedules in code).</param>
/// <param name="FunctionId">The function it starts.</param>
/// <param name="Cron">The cron expression (5 fields, or 6 with seconds first).</param>
/// <param name="TimeZone">The IANA time zone it is read in.</param>
/// <param name="NextAt">The next slot it fires for (when paused: the slot it would fire for).</param>
public sealed record ScheduleInfo(string Id, string FunctionId, string Cron, string TimeZone, DateTimeOffset NextAt)
{
    /// <summary>Whether it is declared in code; those change only with the code, not through the client.</summary>
    public bool FromCode { get; init; }

    /// <summary>What the application associates with it.</summary>
    public string? ExternalId { get; init; }

    /// <summary>Its deduplication key, if any.</summary>
    public string? DeduplicationKey { get; init; }

    /// <summary>A paused schedule fires nothing until resumed.</summary>
    public bool Paused { get; init; }

    /// <summary>What happens to slots missed while no node ran.</summary>
    public MissedSlots Missed { get; init; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

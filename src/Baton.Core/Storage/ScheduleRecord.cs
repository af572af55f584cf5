namespace Baton.Storage;

/// <summary>
/// A cron schedule as stored: <paramref name="Id"/> (<c>{functionId}#{index}</c>), its function, expression, time zone,
/// missed-slot policy, and the next slot to fire (<paramref name="NextAt"/>).
/// </summary>
public sealed record ScheduleRecord(string Id, string FunctionId, string Cron, string TimeZone, MissedSlots Missed, DateTimeOffset NextAt);

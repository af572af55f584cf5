namespace Baton;

/// <summary>The payload of a run started by a cron schedule: which schedule, and the slot it fired for.</summary>
/// <param name="Cron">The cron expression.</param>
/// <param name="TimeZone">The IANA time zone it is read in.</param>
/// <param name="Slot">The slot's time (UTC), even when the run starts later.</param>
/// <param name="ScheduleId">The schedule's id.</param>
/// <param name="ExternalId">What the application associated with the schedule (<see cref="ScheduleOptions.ExternalId"/>).</param>
public sealed record CronTick(string Cron, string TimeZone, DateTimeOffset Slot, string? ScheduleId = null, string? ExternalId = null);

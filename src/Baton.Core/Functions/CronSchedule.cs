namespace Baton;

/// <summary>
/// A cron trigger: the function runs once per slot of <paramref name="Expression"/> (5 fields, or 6 with seconds first)
/// in <paramref name="TimeZone"/> (an IANA id such as <c>Europe/Paris</c>; default UTC), however many nodes run it.
/// </summary>
/// <param name="Expression">The cron expression, such as <c>0 9 * * MON-FRI</c>.</param>
/// <param name="TimeZone">The IANA time zone the expression is read in; null for UTC.</param>
/// <param name="Missed">What to do with slots that passed while no node was running.</param>
public sealed record CronSchedule(string Expression, string? TimeZone = null, MissedSlots Missed = MissedSlots.Skip);

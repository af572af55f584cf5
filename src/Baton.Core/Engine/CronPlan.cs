using Cronos;

namespace Baton.Engine;

/// <summary>Cron expressions (Cronos) and time zones: parsing with clear errors, and the slots they give.</summary>
internal static class CronPlan
{
    /// <summary>How late a slot may fire and still count as on time; older slots were missed (everything was down).</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromMinutes(1);

    /// <summary>Parses a 5-field expression, or a 6-field one with seconds first.</summary>
    /// <exception cref="CronFormatException">The expression is invalid.</exception>
    public static CronExpression Parse(string expression)
    {
        var fields = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        return CronExpression.Parse(expression, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
    }

    /// <exception cref="TimeZoneNotFoundException">No such time zone.</exception>
    public static TimeZoneInfo Zone(string? timeZone) =>
        string.IsNullOrEmpty(timeZone) || timeZone == "UTC" ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(timeZone);

    /// <summary>The first slot strictly after <paramref name="after"/>, or <see cref="DateTimeOffset.MaxValue"/> when none.</summary>
    public static DateTimeOffset Next(string expression, string? timeZone, DateTimeOffset after) =>
        Parse(expression).GetNextOccurrence(after, Zone(timeZone)) ?? DateTimeOffset.MaxValue;

    /// <summary>The problem with a schedule, or null when it is valid.</summary>
    public static string? Problem(CronSchedule schedule)
    {
        if (schedule is null || string.IsNullOrWhiteSpace(schedule.Expression))
        {
            return "a cron expression is empty";
        }

        try
        {
            Parse(schedule.Expression);
        }
        catch (CronFormatException ex)
        {
            return $"cron expression '{schedule.Expression}' is invalid: {ex.Message} (give 5 fields, or 6 with seconds first)";
        }

        try
        {
            Zone(schedule.TimeZone);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return $"time zone '{schedule.TimeZone}' of cron '{schedule.Expression}' is not known; give an IANA id such as 'Europe/Paris'";
        }

        return null;
    }

    /// <summary>
    /// For a schedule due at <paramref name="now"/>: the slot to fire (the latest one passed; a missed one only when the
    /// policy catches up), and the next slot after the latest passed one.
    /// </summary>
    public static (DateTimeOffset? Fire, DateTimeOffset NextAt) Due(Storage.ScheduleRecord schedule, DateTimeOffset now)
    {
        var expression = Parse(schedule.Cron);
        var zone = Zone(schedule.TimeZone);
        var latest = schedule.NextAt;

        // Walk to the latest slot that has passed (bounded: a schedule every second, down for a day, is 86,400 steps).
        for (var i = 0; i < 1_000_000 && expression.GetNextOccurrence(latest, zone) is { } next && next <= now; i++)
        {
            latest = next;
        }

        var onTime = now - latest <= Grace;
        var fire = onTime || schedule.Missed == MissedSlots.CatchUpOne ? latest : (DateTimeOffset?)null;
        return (fire, expression.GetNextOccurrence(latest, zone) ?? DateTimeOffset.MaxValue);
    }
}

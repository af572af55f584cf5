namespace Baton.Storage;

/// <summary>Cron schedules. Every worker node fires them; a slot fires once, whichever node gets to it first.</summary>
public interface IScheduleStore
{
    /// <summary>
    /// Registers the schedules of <paramref name="functionIds"/>: adds new ones, keeps the next slot of unchanged ones,
    /// resets the next slot of changed ones, and removes the functions' schedules that are no longer given.
    /// </summary>
    Task RegisterAsync(IReadOnlyCollection<string> functionIds, IReadOnlyList<ScheduleRecord> schedules, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="max"/> schedules of <paramref name="functionIds"/> whose next slot is due.</summary>
    Task<IReadOnlyList<ScheduleRecord>> DueAsync(IReadOnlyCollection<string> functionIds, DateTimeOffset now, int max, CancellationToken cancellationToken);

    /// <summary>The earliest next slot among the schedules of <paramref name="functionIds"/>, or null.</summary>
    Task<DateTimeOffset?> NextAsync(IReadOnlyCollection<string> functionIds, CancellationToken cancellationToken);

    /// <summary>
    /// Moves a schedule from <paramref name="expectedNextAt"/> to <paramref name="nextAt"/> and creates
    /// <paramref name="run"/> (if any), in one transaction, only if its next slot is still the expected one. Returns
    /// false when another node fired it first.
    /// </summary>
    Task<bool> FireAsync(string scheduleId, DateTimeOffset expectedNextAt, DateTimeOffset nextAt, NewRun? run, CancellationToken cancellationToken);
}

namespace Baton.Storage;

/// <summary>Cron schedules. Every worker node fires them; a slot fires once, whichever node gets to it first.</summary>
public interface IScheduleStore
{
    /// <summary>
    /// Registers the schedules in code of <paramref name="functionIds"/>: adds new ones, keeps the next slot of unchanged
    /// ones, resets the next slot of changed ones, and removes the functions' schedules in code that are no longer given
    /// (schedules created through the client stay).
    /// </summary>
    Task RegisterAsync(IReadOnlyCollection<string> functionIds, IReadOnlyList<ScheduleRecord> schedules, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="max"/> schedules of <paramref name="functionIds"/>, not paused, whose next slot is due.</summary>
    Task<IReadOnlyList<ScheduleRecord>> DueAsync(IReadOnlyCollection<string> functionIds, DateTimeOffset now, int max, CancellationToken cancellationToken);

    /// <summary>The earliest next slot among the schedules of <paramref name="functionIds"/> that are not paused, or null.</summary>
    Task<DateTimeOffset?> NextAsync(IReadOnlyCollection<string> functionIds, CancellationToken cancellationToken);

    /// <summary>
    /// Moves a schedule from <paramref name="expectedNextAt"/> to <paramref name="nextAt"/> and creates
    /// <paramref name="run"/> (if any), in one transaction, only if its next slot is still the expected one. Returns
    /// false when another node fired it first (or it was paused or deleted meanwhile).
    /// </summary>
    Task<bool> FireAsync(string scheduleId, DateTimeOffset expectedNextAt, DateTimeOffset nextAt, NewRun? run, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a schedule created through the client; when another one has its <see cref="ScheduleRecord.DeduplicationKey"/>,
    /// that one is updated instead (keeping its id, and its next slot if its expression and time zone are unchanged).
    /// Returns the schedule as stored.
    /// </summary>
    Task<ScheduleRecord> CreateAsync(ScheduleRecord schedule, CancellationToken cancellationToken);

    /// <summary>Changes a schedule created through the client (by id); false when there is none.</summary>
    Task<bool> UpdateAsync(ScheduleRecord schedule, CancellationToken cancellationToken);

    /// <summary>Pauses or resumes a schedule, with its next slot; false when there is none.</summary>
    Task<bool> SetPausedAsync(string scheduleId, bool paused, DateTimeOffset nextAt, CancellationToken cancellationToken);

    /// <summary>Deletes a schedule created through the client; false when there is none.</summary>
    Task<bool> DeleteAsync(string scheduleId, CancellationToken cancellationToken);

    /// <summary>A schedule by id, or null.</summary>
    Task<ScheduleRecord?> GetAsync(string scheduleId, CancellationToken cancellationToken);

    /// <summary>Schedules by id, after <paramref name="afterId"/> (a cursor), optionally of one function or external id.</summary>
    Task<IReadOnlyList<ScheduleRecord>> ListAsync(string? functionId, string? externalId, string? afterId, int limit, CancellationToken cancellationToken);
}

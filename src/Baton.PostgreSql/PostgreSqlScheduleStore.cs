using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

internal sealed class PostgreSqlScheduleStore(PostgreSqlDatabase database) : IScheduleStore
{
    private string S => database.Schema;

    public Task RegisterAsync(IReadOnlyCollection<string> functionIds, IReadOnlyList<ScheduleRecord> schedules, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            [
                // An unchanged schedule keeps its next slot, so a restart neither fires a slot twice nor loses one.
                new PgCommand($"""
                        INSERT INTO {S}.schedules (id, function_id, cron, time_zone, missed, next_at)
                        SELECT * FROM unnest(@ids, @functions, @crons, @zones, @missed, @next)
                        ON CONFLICT (id) DO UPDATE SET
                            function_id = excluded.function_id, missed = excluded.missed,
                            next_at = CASE WHEN {S}.schedules.cron = excluded.cron AND {S}.schedules.time_zone = excluded.time_zone
                                THEN {S}.schedules.next_at ELSE excluded.next_at END,
                            cron = excluded.cron, time_zone = excluded.time_zone
                        """)
                    .With("ids", schedules.Select(s => s.Id).ToArray())
                    .With("functions", schedules.Select(s => s.FunctionId).ToArray())
                    .With("crons", schedules.Select(s => s.Cron).ToArray())
                    .With("zones", schedules.Select(s => s.TimeZone).ToArray())
                    .With("missed", schedules.Select(s => (int)s.Missed).ToArray())
                    .With("next", schedules.Select(s => Ms(s.NextAt)).ToArray()),
                new PgCommand($"DELETE FROM {S}.schedules WHERE function_id = ANY(@functions) AND NOT (id = ANY(@ids))")
                    .With("functions", functionIds.ToArray()).With("ids", schedules.Select(s => s.Id).ToArray()),
            ],
            _ => true);

    public async Task<IReadOnlyList<ScheduleRecord>> DueAsync(IReadOnlyCollection<string> functionIds, DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT id, function_id, cron, time_zone, missed, next_at FROM {S}.schedules
            WHERE next_at <= @now AND function_id = ANY(@functions) ORDER BY next_at LIMIT @max;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("now", Ms(now)).With("functions", functionIds.ToArray()).With("max", max);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var due = new List<ScheduleRecord>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                due.Add(new ScheduleRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), (MissedSlots)reader.GetInt32(4), Time0(reader.GetInt64(5))));
            }

            return due;
        }
    }

    public async Task<DateTimeOffset?> NextAsync(IReadOnlyCollection<string> functionIds, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT MIN(next_at) FROM {S}.schedules WHERE function_id = ANY(@functions);", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("functions", functionIds.ToArray());
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long ms ? Time0(ms) : null;
        }
    }

    /// <remarks>
    /// The compare-and-set on the schedule's next slot decides which node fires the slot; the run is created in a second
    /// round of the same transaction, while the schedule's row stays locked.
    /// </remarks>
    public Task<bool> FireAsync(string scheduleId, DateTimeOffset expectedNextAt, DateTimeOffset nextAt, NewRun? run, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(new PgRound<bool>(
            [new PgCommand($"UPDATE {S}.schedules SET next_at = @next WHERE id = @id AND next_at = @expected")
                .With("next", Ms(nextAt)).With("id", scheduleId).With("expected", Ms(expectedNextAt))],
            results => results[0].RecordsAffected != 1
                ? PgNext<bool>.Done(false)
                : run is null
                    ? PgNext<bool>.Done(true)
                    : PgNext<bool>.More(new([PostgreSqlWrites.InsertRuns(S, [run])], _ => PgNext<bool>.Done(true), NotifiesWork: true))));
}

using System.Text.Json;
using Baton.Storage;
using static Baton.Sqlite.SqliteDatabase;

namespace Baton.Sqlite;

internal sealed class SqliteScheduleStore(SqliteDatabase database) : IScheduleStore
{
    public Task RegisterAsync(IReadOnlyCollection<string> functionIds, IReadOnlyList<ScheduleRecord> schedules, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            foreach (var schedule in schedules)
            {
                // An unchanged schedule keeps its next slot, so a restart neither fires a slot twice nor loses one.
                w.Command("""
                        INSERT INTO schedules(id, function_id, cron, time_zone, missed, next_at) VALUES (@id, @fn, @cron, @tz, @missed, @next)
                        ON CONFLICT(id) DO UPDATE SET
                            function_id = excluded.function_id, missed = excluded.missed,
                            next_at = CASE WHEN schedules.cron = excluded.cron AND schedules.time_zone = excluded.time_zone
                                THEN schedules.next_at ELSE excluded.next_at END,
                            cron = excluded.cron, time_zone = excluded.time_zone;
                        """)
                    .With("@id", schedule.Id).With("@fn", schedule.FunctionId).With("@cron", schedule.Cron).With("@tz", schedule.TimeZone)
                    .With("@missed", (int)schedule.Missed).With("@next", Ms(schedule.NextAt))
                    .ExecuteNonQuery();
            }

            w.Command("""
                    DELETE FROM schedules WHERE function_id IN (SELECT value FROM json_each(@functions))
                    AND id NOT IN (SELECT value FROM json_each(@ids));
                    """)
                .With("@functions", JsonSerializer.Serialize(functionIds)).With("@ids", JsonSerializer.Serialize(schedules.Select(s => s.Id)))
                .ExecuteNonQuery();
            return true;
        });

    public Task<IReadOnlyList<ScheduleRecord>> DueAsync(IReadOnlyCollection<string> functionIds, DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, function_id, cron, time_zone, missed, next_at FROM schedules
            WHERE next_at <= @now AND function_id IN (SELECT value FROM json_each(@functions)) ORDER BY next_at LIMIT @max;
            """;
        command.With("@now", Ms(now)).With("@functions", JsonSerializer.Serialize(functionIds)).With("@max", max);
        using var reader = command.ExecuteReader();
        var due = new List<ScheduleRecord>();
        while (reader.Read())
        {
            due.Add(new ScheduleRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), (MissedSlots)reader.GetInt32(4), Time0(reader.GetInt64(5))));
        }

        return Task.FromResult<IReadOnlyList<ScheduleRecord>>(due);
    }

    public Task<DateTimeOffset?> NextAsync(IReadOnlyCollection<string> functionIds, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT MIN(next_at) FROM schedules WHERE function_id IN (SELECT value FROM json_each(@functions));";
        command.With("@functions", JsonSerializer.Serialize(functionIds));
        return Task.FromResult(command.ExecuteScalar() is long ms ? Time0(ms) : (DateTimeOffset?)null);
    }

    public Task<bool> FireAsync(string scheduleId, DateTimeOffset expectedNextAt, DateTimeOffset nextAt, NewRun? run, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            if (w.Command("UPDATE schedules SET next_at = @next WHERE id = @id AND next_at = @expected;")
                    .With("@next", Ms(nextAt)).With("@id", scheduleId).With("@expected", Ms(expectedNextAt)).ExecuteNonQuery() != 1)
            {
                return false;
            }

            if (run is not null)
            {
                SqliteWrites.InsertRun(w, run);
            }

            return true;
        });
}

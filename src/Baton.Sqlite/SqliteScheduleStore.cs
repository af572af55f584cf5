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
                        INSERT INTO schedules(id, function_id, cron, time_zone, missed, next_at, source, created_at) VALUES (@id, @fn, @cron, @tz, @missed, @next, 'code', @now)
                        ON CONFLICT(id) DO UPDATE SET
                            function_id = excluded.function_id, missed = excluded.missed,
                            next_at = CASE WHEN schedules.cron = excluded.cron AND schedules.time_zone = excluded.time_zone
                                THEN schedules.next_at ELSE excluded.next_at END,
                            cron = excluded.cron, time_zone = excluded.time_zone;
                        """)
                    .With("@id", schedule.Id).With("@fn", schedule.FunctionId).With("@cron", schedule.Cron).With("@tz", schedule.TimeZone)
                    .With("@missed", (int)schedule.Missed).With("@next", Ms(schedule.NextAt)).With("@now", Ms(database.Time.GetUtcNow()))
                    .ExecuteNonQuery();
            }

            w.Command("""
                    DELETE FROM schedules WHERE source = 'code' AND function_id IN (SELECT value FROM json_each(@functions))
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
        command.CommandText = $"""
            SELECT {Columns} FROM schedules
            WHERE next_at <= @now AND paused = 0 AND function_id IN (SELECT value FROM json_each(@functions)) ORDER BY next_at LIMIT @max;
            """;
        command.With("@now", Ms(now)).With("@functions", JsonSerializer.Serialize(functionIds)).With("@max", max);
        return Task.FromResult(ReadAll(command));
    }

    public Task<DateTimeOffset?> NextAsync(IReadOnlyCollection<string> functionIds, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT MIN(next_at) FROM schedules WHERE paused = 0 AND function_id IN (SELECT value FROM json_each(@functions));";
        command.With("@functions", JsonSerializer.Serialize(functionIds));
        return Task.FromResult(command.ExecuteScalar() is long ms ? Time0(ms) : (DateTimeOffset?)null);
    }

    public Task<bool> FireAsync(string scheduleId, DateTimeOffset expectedNextAt, DateTimeOffset nextAt, NewRun? run, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            if (w.Command("UPDATE schedules SET next_at = @next WHERE id = @id AND next_at = @expected AND paused = 0;")
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

    private const string Columns = "id, function_id, cron, time_zone, missed, next_at, source, external_id, dedup_key, paused, created_at";

    public Task<ScheduleRecord> CreateAsync(ScheduleRecord schedule, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            // A schedule of the same deduplication key is updated in place: same id, and the same next slot unless the
            // expression or time zone changed.
            var command = w.Command($"""
                    INSERT INTO schedules(id, function_id, cron, time_zone, missed, next_at, source, external_id, dedup_key, paused, created_at)
                    VALUES (@id, @fn, @cron, @tz, @missed, @next, 'client', @external, @dedup, 0, @created)
                    ON CONFLICT(dedup_key) WHERE dedup_key IS NOT NULL DO UPDATE SET
                        function_id = excluded.function_id, missed = excluded.missed, external_id = excluded.external_id,
                        next_at = CASE WHEN schedules.cron = excluded.cron AND schedules.time_zone = excluded.time_zone AND schedules.function_id = excluded.function_id
                            THEN schedules.next_at ELSE excluded.next_at END,
                        cron = excluded.cron, time_zone = excluded.time_zone
                    RETURNING {Columns};
                    """)
                .With("@id", schedule.Id).With("@fn", schedule.FunctionId).With("@cron", schedule.Cron).With("@tz", schedule.TimeZone)
                .With("@missed", (int)schedule.Missed).With("@next", Ms(schedule.NextAt)).With("@external", schedule.ExternalId)
                .With("@dedup", schedule.DeduplicationKey).With("@created", Ms(schedule.CreatedAt));
            return ReadAll(command)[0];
        });

    public Task<bool> UpdateAsync(ScheduleRecord schedule, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w => w.Command("""
                UPDATE schedules SET cron = @cron, time_zone = @tz, missed = @missed, external_id = @external,
                    next_at = CASE WHEN paused = 1 THEN next_at ELSE @next END
                WHERE id = @id AND source = 'client';
                """)
            .With("@id", schedule.Id).With("@cron", schedule.Cron).With("@tz", schedule.TimeZone).With("@missed", (int)schedule.Missed)
            .With("@external", schedule.ExternalId).With("@next", Ms(schedule.NextAt))
            .ExecuteNonQuery() == 1);

    public Task<bool> SetPausedAsync(string scheduleId, bool paused, DateTimeOffset nextAt, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w => w.Command("UPDATE schedules SET paused = @paused, next_at = @next WHERE id = @id;")
            .With("@id", scheduleId).With("@paused", paused ? 1 : 0).With("@next", Ms(nextAt)).ExecuteNonQuery() == 1);

    public Task<bool> DeleteAsync(string scheduleId, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w => w.Command("DELETE FROM schedules WHERE id = @id AND source = 'client';").With("@id", scheduleId).ExecuteNonQuery() == 1);

    public Task<ScheduleRecord?> GetAsync(string scheduleId, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM schedules WHERE id = @id;";
        command.With("@id", scheduleId);
        return Task.FromResult(ReadAll(command).SingleOrDefault());
    }

    public Task<IReadOnlyList<ScheduleRecord>> ListAsync(string? functionId, string? externalId, string? afterId, int limit, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {Columns} FROM schedules
            WHERE (@fn IS NULL OR function_id = @fn) AND (@external IS NULL OR external_id = @external) AND (@after IS NULL OR id > @after)
            ORDER BY id LIMIT @limit;
            """;
        command.With("@fn", functionId).With("@external", externalId).With("@after", afterId).With("@limit", limit);
        return Task.FromResult(ReadAll(command));
    }

    private static IReadOnlyList<ScheduleRecord> ReadAll(Microsoft.Data.Sqlite.SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var schedules = new List<ScheduleRecord>();
        while (reader.Read())
        {
            schedules.Add(new ScheduleRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), (MissedSlots)reader.GetInt32(4), Time0(reader.GetInt64(5)))
            {
                FromCode = reader.GetString(6) == "code",
                ExternalId = reader.IsDBNull(7) ? null : reader.GetString(7),
                DeduplicationKey = reader.IsDBNull(8) ? null : reader.GetString(8),
                Paused = reader.GetInt32(9) == 1,
                CreatedAt = Time0(reader.GetInt64(10)),
            });
        }

        return schedules;
    }
}

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
                        INSERT INTO {S}.schedules (id, function_id, cron, time_zone, missed, next_at, source, created_at)
                        SELECT *, 'code', @now FROM unnest(@ids, @functions, @crons, @zones, @missed, @next)
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
                    .With("next", schedules.Select(s => Ms(s.NextAt)).ToArray())
                    .With("now", Ms(database.Time.GetUtcNow())),
                new PgCommand($"DELETE FROM {S}.schedules WHERE source = 'code' AND function_id = ANY(@functions) AND NOT (id = ANY(@ids))")
                    .With("functions", functionIds.ToArray()).With("ids", schedules.Select(s => s.Id).ToArray()),
            ],
            _ => true);

    public async Task<IReadOnlyList<ScheduleRecord>> DueAsync(IReadOnlyCollection<string> functionIds, DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT {Columns} FROM {S}.schedules
            WHERE next_at <= @now AND NOT paused AND function_id = ANY(@functions) ORDER BY next_at LIMIT @max;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("now", Ms(now)).With("functions", functionIds.ToArray()).With("max", max);
            return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<DateTimeOffset?> NextAsync(IReadOnlyCollection<string> functionIds, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT MIN(next_at) FROM {S}.schedules WHERE NOT paused AND function_id = ANY(@functions);", cancellationToken).ConfigureAwait(false);
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
            [new PgCommand($"UPDATE {S}.schedules SET next_at = @next WHERE id = @id AND next_at = @expected AND NOT paused")
                .With("next", Ms(nextAt)).With("id", scheduleId).With("expected", Ms(expectedNextAt))],
            results => results[0].RecordsAffected != 1
                ? PgNext<bool>.Done(false)
                : run is null
                    ? PgNext<bool>.Done(true)
                    : PgNext<bool>.More(new([PostgreSqlWrites.InsertRuns(S, [run])], _ => PgNext<bool>.Done(true), NotifiesWork: true))));

    private const string Columns = "id, function_id, cron, time_zone, missed, next_at, source, external_id, dedup_key, paused, created_at";

    public Task<ScheduleRecord> CreateAsync(ScheduleRecord schedule, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            new PgCommand($"""
                    INSERT INTO {S}.schedules AS s (id, function_id, cron, time_zone, missed, next_at, source, external_id, dedup_key, paused, created_at)
                    VALUES (@id, @fn, @cron, @tz, @missed, @next, 'client', @external, @dedup, false, @created)
                    ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO UPDATE SET
                        function_id = excluded.function_id, missed = excluded.missed, external_id = excluded.external_id,
                        next_at = CASE WHEN s.cron = excluded.cron AND s.time_zone = excluded.time_zone AND s.function_id = excluded.function_id
                            THEN s.next_at ELSE excluded.next_at END,
                        cron = excluded.cron, time_zone = excluded.time_zone
                    RETURNING {Columns}
                    """, returnsRows: true)
                .With("id", schedule.Id).With("fn", schedule.FunctionId).With("cron", schedule.Cron).With("tz", schedule.TimeZone)
                .With("missed", (int)schedule.Missed).With("next", Ms(schedule.NextAt)).With("external", schedule.ExternalId)
                .With("dedup", schedule.DeduplicationKey).With("created", Ms(schedule.CreatedAt)),
            result => Read(result.Rows[0]));

    public Task<bool> UpdateAsync(ScheduleRecord schedule, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            new PgCommand($"""
                    UPDATE {S}.schedules SET cron = @cron, time_zone = @tz, missed = @missed, external_id = @external,
                        next_at = CASE WHEN paused THEN next_at ELSE @next END
                    WHERE id = @id AND source = 'client'
                    """)
                .With("id", schedule.Id).With("cron", schedule.Cron).With("tz", schedule.TimeZone).With("missed", (int)schedule.Missed)
                .With("external", schedule.ExternalId).With("next", Ms(schedule.NextAt)),
            result => result.RecordsAffected == 1);

    public Task<bool> SetPausedAsync(string scheduleId, bool paused, DateTimeOffset nextAt, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            new PgCommand($"UPDATE {S}.schedules SET paused = @paused, next_at = @next WHERE id = @id")
                .With("id", scheduleId).With("paused", paused).With("next", Ms(nextAt)),
            result => result.RecordsAffected == 1);

    public Task<bool> DeleteAsync(string scheduleId, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            new PgCommand($"DELETE FROM {S}.schedules WHERE id = @id AND source = 'client'").With("id", scheduleId),
            result => result.RecordsAffected == 1);

    public async Task<ScheduleRecord?> GetAsync(string scheduleId, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT {Columns} FROM {S}.schedules WHERE id = @id;", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("id", scheduleId);
            return (await ReadAllAsync(command, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
        }
    }

    public async Task<IReadOnlyList<ScheduleRecord>> ListAsync(string? functionId, string? externalId, string? afterId, int limit, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT {Columns} FROM {S}.schedules
            WHERE (@fn::text IS NULL OR function_id = @fn) AND (@external::text IS NULL OR external_id = @external) AND (@after::text IS NULL OR id > @after)
            ORDER BY id LIMIT @limit;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("fn", functionId).With("external", externalId).With("after", afterId).With("limit", limit);
            return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<IReadOnlyList<ScheduleRecord>> ReadAllAsync(Npgsql.NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var schedules = new List<ScheduleRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var row = new object?[reader.FieldCount];
            reader.GetValues(row!);
            schedules.Add(Read([.. row.Select(v => v is DBNull ? null : v)]));
        }

        return schedules;
    }

    private static ScheduleRecord Read(object?[] row) =>
        new((string)row[0]!, (string)row[1]!, (string)row[2]!, (string)row[3]!, (MissedSlots)(int)row[4]!, Time0((long)row[5]!))
        {
            FromCode = (string)row[6]! == "code",
            ExternalId = (string?)row[7],
            DeduplicationKey = (string?)row[8],
            Paused = (bool)row[9]!,
            CreatedAt = Time0((long)row[10]!),
        };
}

using Baton.Storage;
using static Baton.Sqlite.SqliteDatabase;

namespace Baton.Sqlite;

internal sealed class SqliteEventStore(SqliteDatabase database) : IEventStore
{
    public async Task<AppendResult> AppendAsync(IReadOnlyList<EventAppend> events, CancellationToken cancellationToken) =>
        await database.Writer.WriteAsync(w => SqliteWrites.AppendEvents(w, events, database.Time.GetUtcNow())).ConfigureAwait(false);

    public Task<EventRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, data, ts, received_at FROM events WHERE id = @id;";
        command.With("@id", id);
        using var reader = command.ExecuteReader();
        return Task.FromResult(reader.Read()
            ? new EventRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), Time0(reader.GetInt64(3)), Time0(reader.GetInt64(4)))
            : null);
    }

    public Task<IReadOnlyList<EventRecord>> ListAsync(string? name, DateTimeOffset? afterReceivedAt, string? afterId, int limit, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, name, data, ts, received_at FROM events
            WHERE (@name IS NULL OR name = @name)
              AND (@after_at IS NULL OR received_at < @after_at OR (received_at = @after_at AND id < @after_id))
            ORDER BY received_at DESC, id DESC LIMIT @limit;
            """;
        command.With("@name", name).With("@after_at", MsOrNull(afterReceivedAt)).With("@after_id", afterId).With("@limit", limit);
        using var reader = command.ExecuteReader();
        var events = new List<EventRecord>();
        while (reader.Read())
        {
            events.Add(new EventRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), Time0(reader.GetInt64(3)), Time0(reader.GetInt64(4))));
        }

        return Task.FromResult<IReadOnlyList<EventRecord>>(events);
    }

    public Task<IReadOnlyList<EventOutcome>> GetOutcomesAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT event_id, function_id, id, status, NULL, created_at FROM runs WHERE event_id IN (SELECT value FROM json_each(@ids))
            UNION ALL
            SELECT event_id, function_id, NULL, NULL, reason, created_at FROM skipped_runs WHERE event_id IN (SELECT value FROM json_each(@ids))
            ORDER BY 1, 6 DESC;
            """;
        command.With("@ids", System.Text.Json.JsonSerializer.Serialize(eventIds));
        using var reader = command.ExecuteReader();
        var outcomes = new List<EventOutcome>();
        while (reader.Read())
        {
            outcomes.Add(new EventOutcome(
                reader.GetString(0), reader.GetString(1), StringOrNull(reader, 2), reader.IsDBNull(3) ? null : (RunStatus)reader.GetInt32(3), StringOrNull(reader, 4)));
        }

        return Task.FromResult<IReadOnlyList<EventOutcome>>(outcomes);
    }
}

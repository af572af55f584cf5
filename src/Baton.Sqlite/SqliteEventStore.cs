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
}

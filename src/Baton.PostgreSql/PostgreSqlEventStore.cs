using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

internal sealed class PostgreSqlEventStore(PostgreSqlDatabase database) : IEventStore
{
    public async Task<IReadOnlyList<bool>> AppendAsync(IReadOnlyList<EventAppend> events, CancellationToken cancellationToken) =>
        await database.Writer.WriteAsync(
            PostgreSqlWrites.AppendEvents(database.Schema, events),
            result => PostgreSqlWrites.Accepted(events, result),
            notifiesWork: events.Any(e => e.Runs.Count > 0)).ConfigureAwait(false);

    public async Task<EventRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT id, name, data, ts, received_at FROM {database.Schema}.events WHERE id = @id;", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("id", id);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ? new EventRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), Time0(reader.GetInt64(3)), Time0(reader.GetInt64(4)))
                : null;
        }
    }
}

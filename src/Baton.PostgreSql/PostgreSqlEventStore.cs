using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

internal sealed class PostgreSqlEventStore(PostgreSqlDatabase database) : IEventStore
{
    /// <remarks>
    /// The first round appends the events (with their runs) and finds the waits they may resolve; a second round, in the
    /// same transaction, resolves those whose conditions hold.
    /// </remarks>
    public async Task<AppendResult> AppendAsync(IReadOnlyList<EventAppend> events, CancellationToken cancellationToken)
    {
        var s = database.Schema;
        var records = events.Select(e => e.Event).ToList();
        PgRound<AppendResult> Append(IReadOnlyList<PgCommand> first) => new(
            [.. first, PostgreSqlWrites.AppendEvents(s, events), PostgreSqlWrites.FindWaits(s, records)],
            results =>
            {
                var (appended, waits) = (results[first.Count], results[first.Count + 1]);
                var accepted = PostgreSqlWrites.Accepted(events, appended);
                var result = new AppendResult(accepted, PostgreSqlWrites.CreatedRuns(appended));
                return PostgreSqlWrites.Resolution(s, records, accepted, waits, database.Time.GetUtcNow(), result) is { } resolve
                    ? PgNext<AppendResult>.More(resolve)
                    : PgNext<AppendResult>.Done(result);
            },
            NotifiesWork: events.Any(e => e.Runs.Count > 0));

        // Singletons in cancel mode first read who holds their keys; those are cancelled just before the append.
        var runs = events.SelectMany(e => e.Runs);
        return await database.Writer.WriteAsync(
            PostgreSqlWrites.CancelSingletons(s, runs, database.Time.GetUtcNow(), cancels => PgNext<AppendResult>.More(Append(cancels))) ?? Append([])).ConfigureAwait(false);
    }

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

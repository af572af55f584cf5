using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

internal sealed class PostgreSqlEventStore(PostgreSqlDatabase database) : IEventStore
{
    /// <remarks>
    /// The first round appends the events (with their runs) and finds the waits they may resolve; a second round, in the
    /// same transaction, resolves those whose conditions hold.
    /// </remarks>
    /// <remarks>
    /// Rounds of one transaction: rate rules first (when runs have them), then singleton holders to cancel (when runs
    /// replace them), then the append of events and runs with the lookup of the waits they match, and last the
    /// resolution of the waits whose conditions hold.
    /// </remarks>
    public async Task<AppendResult> AppendAsync(IReadOnlyList<EventAppend> events, CancellationToken cancellationToken)
    {
        var s = database.Schema;
        var records = events.Select(e => e.Event).ToList();
        var now = database.Time.GetUtcNow();

        // Runs of batching functions join batches after the append, once it is known which events are new.
        PgRound<AppendResult> Append(IReadOnlyList<EventAppend> appends, IReadOnlyList<PgCommand> first) => new(
            [.. first, PostgreSqlWrites.AppendEvents(s, [.. appends.Select(a => a with { Runs = [.. a.Runs.Where(r => r.BatchKey is null)] })]), PostgreSqlWrites.FindWaits(s, records)],
            results =>
            {
                var (appended, waits) = (results[first.Count], results[first.Count + 1]);
                var accepted = PostgreSqlWrites.Accepted(appends, appended);
                var created = PostgreSqlWrites.CreatedRuns(appended);
                PgNext<AppendResult> Resolve(IReadOnlyList<string> batchesOpened)
                {
                    var result = new AppendResult(accepted, [.. created, .. batchesOpened]);
                    return PostgreSqlWrites.Resolution(s, records, accepted, waits, database.Time.GetUtcNow(), result) is { } resolve
                        ? PgNext<AppendResult>.More(resolve)
                        : PgNext<AppendResult>.Done(result);
                }

                var batched = appends.Where((_, i) => accepted[i]).SelectMany(a => a.Runs.Where(r => r.BatchKey is not null)).ToList();
                return batched.Count == 0
                    ? Resolve([])
                    : PgNext<AppendResult>.More(new PgRound<AppendResult>(
                        PostgreSqlWrites.JoinBatches(s, batched),
                        joined => Resolve([.. joined.Select(j => j.Rows[0]).Where(row => (bool)row[1]!).Select(row => (string)row[0]!)]),
                        NotifiesWork: true));
            },
            NotifiesWork: appends.Any(e => e.Runs.Count > 0));

        // Singletons in cancel mode first read who holds their keys; those are cancelled just before the append.
        PgRound<AppendResult> Singletons(IReadOnlyList<EventAppend> appends, IReadOnlyList<PgCommand> first) =>
            PostgreSqlWrites.CancelSingletons(s, appends.SelectMany(e => e.Runs), now, cancels => PgNext<AppendResult>.More(Append(appends, [.. first, .. cancels])))
            ?? Append(appends, first);

        PgRound<AppendResult> Rates(IReadOnlyList<EventAppend> appends, IReadOnlyList<PgCommand> first)
        {
            var all = appends.SelectMany(e => e.Runs).ToList();
            return PostgreSqlWrites.ApplyRates(s, all, starts =>
            {
                var admitted = PostgreSqlWrites.Admitted(all, starts).ToDictionary(r => r.Id, StringComparer.Ordinal);
                var kept = appends.Select(e => e with { Runs = [.. e.Runs.Where(r => admitted.ContainsKey(r.Id)).Select(r => admitted[r.Id])] }).ToList();
                var record = PostgreSqlWrites.RecordRateLimited(s, all, starts);
                return PgNext<AppendResult>.More(Singletons(kept, record is null ? first : [.. first, record]));
            }) ?? Singletons(appends, first);
        }

        // Debounced runs first: a pending run of the same key absorbs the event, and only the latest of a key is created.
        var debounced = PostgreSqlWrites.Debounce(s, [.. events.SelectMany(e => e.Runs)], absorbed =>
        {
            var kept = events.Select(e => e with { Runs = [.. e.Runs.Where(r => !absorbed.Contains(r.Id))] }).ToList();
            var record = PostgreSqlWrites.RecordSkipped(s, events.SelectMany(e => e.Runs).Where(r => absorbed.Contains(r.Id)), "debounced");
            return PgNext<AppendResult>.More(Rates(kept, record is null ? [] : [record]));
        });
        return await database.Writer.WriteAsync(debounced ?? Rates(events, [])).ConfigureAwait(false);
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

using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

internal sealed class PostgreSqlEventStore(PostgreSqlDatabase database, Microsoft.Extensions.Logging.ILogger logger) : IEventStore
{
    /// <summary>Keeps the plan of the lookup of the waits events match right after a burst of waiting runs.</summary>
    internal PostgreSqlTableStatistics WaitStatistics { get; } = new(database, "waits", logger);

    /// <remarks>Rounds of one transaction: the events first, then their runs (see <c>RunsOf</c>).</remarks>
    public async Task<AppendResult> AppendAsync(IReadOnlyList<EventAppend> events, CancellationToken cancellationToken)
    {
        var s = database.Schema;
        var records = events.Select(e => e.Event).ToList();
        var now = database.Time.GetUtcNow();

        // First the events themselves: the later rounds then deal only with the runs of events that are new.
        var result = await database.Writer.WriteAsync(new PgRound<AppendResult>([PostgreSqlWrites.InsertEvents(s, records)], inserted =>
        {
            var fresh = inserted[0].Rows.Select(r => (string)r[0]!).ToHashSet(StringComparer.Ordinal);
            var accepted = events.Select(e => fresh.Remove(e.Event.Id)).ToArray();
            var appends = events.Where((_, i) => accepted[i]).ToList();
            return appends.Count == 0
                ? PgNext<AppendResult>.Done(new AppendResult(accepted, []))
                : PgNext<AppendResult>.More(RunsOf(appends, accepted));
        })).ConfigureAwait(false);
        if (result.Accepted.Contains(true))
        {
            // New events looked for the waits they match, a lookup whose plan is right only while the statistics of the
            // waits describe them (see the class).
            WaitStatistics.MayHaveGrown();
        }

        return result;

        // Rounds for the runs of the new events: debounced runs first (a pending run of the same key absorbs the event,
        // and only the latest of a key is created), then rate rules (when runs have them), then singleton holders to
        // cancel (when runs replace them), then the runs with the lookup of the waits the events match, then the runs of
        // batching functions, and last the resolution of the waits whose conditions hold.
        PgRound<AppendResult> RunsOf(IReadOnlyList<EventAppend> appends, bool[] accepted)
        {
            PgRound<AppendResult> Append(IReadOnlyList<EventAppend> kept, IReadOnlyList<PgCommand> first) => new(
                [.. first, PostgreSqlWrites.AppendEvents(s, [.. kept.Select(a => a with { Runs = [.. a.Runs.Where(r => r.BatchKey is null)] })], eventsInserted: true), PostgreSqlWrites.FindWaits(s, records)],
                results =>
                {
                    var (appended, waits) = (results[first.Count], results[first.Count + 1]);
                    var created = PostgreSqlWrites.CreatedRuns(appended);
                    PgNext<AppendResult> Resolve(IReadOnlyList<string> batchesOpened)
                    {
                        var result = new AppendResult(accepted, [.. created, .. batchesOpened]);
                        return PostgreSqlWrites.Resolution(s, records, accepted, waits, database.Time.GetUtcNow(), result) is { } resolve
                            ? PgNext<AppendResult>.More(resolve)
                            : PgNext<AppendResult>.Done(result);
                    }

                    var batched = kept.SelectMany(a => a.Runs.Where(r => r.BatchKey is not null)).ToList();
                    return batched.Count == 0
                        ? Resolve([])
                        : PgNext<AppendResult>.More(new PgRound<AppendResult>(
                            PostgreSqlWrites.JoinBatches(s, batched),
                            joined => Resolve([.. joined.Select(j => j.Rows[0]).Where(row => (bool)row[1]!).Select(row => (string)row[0]!)]),
                            NotifiesWork: true));
                },
                NotifiesWork: kept.Any(e => e.Runs.Count > 0));

            PgRound<AppendResult> Singletons(IReadOnlyList<EventAppend> kept, IReadOnlyList<PgCommand> first) =>
                PostgreSqlWrites.CancelSingletons(s, kept.SelectMany(e => e.Runs), now, cancels => PgNext<AppendResult>.More(Append(kept, [.. first, .. cancels])))
                ?? Append(kept, first);

            PgRound<AppendResult> Rates(IReadOnlyList<EventAppend> kept, IReadOnlyList<PgCommand> first)
            {
                var all = kept.SelectMany(e => e.Runs).ToList();
                return PostgreSqlWrites.ApplyRates(s, all, starts =>
                {
                    var admitted = PostgreSqlWrites.Admitted(all, starts).ToDictionary(r => r.Id, StringComparer.Ordinal);
                    var left = kept.Select(e => e with { Runs = [.. e.Runs.Where(r => admitted.ContainsKey(r.Id)).Select(r => admitted[r.Id])] }).ToList();
                    var record = PostgreSqlWrites.RecordRateLimited(s, all, starts);
                    return PgNext<AppendResult>.More(Singletons(left, record is null ? first : [.. first, record]));
                }) ?? Singletons(kept, first);
            }

            return PostgreSqlWrites.Debounce(s, [.. appends.SelectMany(e => e.Runs)], absorbed =>
            {
                var kept = appends.Select(e => e with { Runs = [.. e.Runs.Where(r => !absorbed.Contains(r.Id))] }).ToList();
                var record = PostgreSqlWrites.RecordSkipped(s, appends.SelectMany(e => e.Runs).Where(r => absorbed.Contains(r.Id)), "debounced");
                return PgNext<AppendResult>.More(Rates(kept, record is null ? [] : [record]));
            }) ?? Rates(appends, []);
        }
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

    public async Task<IReadOnlyList<EventRecord>> ListAsync(string? name, DateTimeOffset? afterReceivedAt, string? afterId, int limit, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT id, name, data, ts, received_at FROM {database.Schema}.events
            WHERE (@name::text IS NULL OR name = @name)
              AND (@after_at::bigint IS NULL OR (received_at, id) < (@after_at, @after_id::text))
            ORDER BY received_at DESC, id DESC LIMIT @limit;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("name", name).With("after_at", afterReceivedAt is { } after ? Ms(after) : (long?)null).With("after_id", afterId).With("limit", limit);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var events = new List<EventRecord>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                events.Add(new EventRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), Time0(reader.GetInt64(3)), Time0(reader.GetInt64(4))));
            }

            return events;
        }
    }

    public async Task<IReadOnlyList<EventOutcome>> GetOutcomesAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT event_id, function_id, id, status, NULL::text, created_at FROM {database.Schema}.runs WHERE event_id = ANY(@ids)
            UNION ALL
            SELECT event_id, function_id, NULL, NULL, reason, created_at FROM {database.Schema}.skipped_runs WHERE event_id = ANY(@ids)
            ORDER BY 1, 6 DESC;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("ids", eventIds.ToArray());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var outcomes = new List<EventOutcome>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                outcomes.Add(new EventOutcome(
                    reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : (RunStatus)reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
            }

            return outcomes;
        }
    }
}

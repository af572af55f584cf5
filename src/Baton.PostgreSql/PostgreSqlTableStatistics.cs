using Microsoft.Extensions.Logging;
using Npgsql;

namespace Baton.PostgreSql;

/// <summary>
/// Keeps PostgreSQL's picture of one hot table current when it grows faster than autovacuum looks (once a minute by
/// default). Baton's statements run prepared, and a prepared statement's plan is cached, chosen from the table's
/// statistics: planned while the table was small or never analyzed, it stays until the table is analyzed. Measured here:
/// the claim's plan read every due run and sorted them to take the oldest few, instead of walking the index in order and
/// stopping (5.2 ms per claim with 5,000 runs due, 0.45 ms after an <c>ANALYZE</c>); the lookup of the waits an event
/// matches scanned every wait (31-36 ms per event with 100,000 runs waiting, planned when 1,000 were).
/// A sign that the table may have grown (a claim that found a backlog; an event that looked for waits) makes this, at
/// most every 10 s per node, compare the table's size on disk with the size its statistics were gathered at, and analyze
/// it when it is over 32 pages (some 1,000 rows) and more than twice that size. Churn alone (rows inserted and deleted at a
/// steady size) reuses the same pages and never triggers it.
/// </summary>
internal sealed partial class PostgreSqlTableStatistics(PostgreSqlDatabase database, string table, ILogger logger)
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(10);
    private long _nextCheckTicks;
    private int _checking;

    /// <summary>The latest check (or a completed task); tests wait on it.</summary>
    internal Task Checked { get; private set; } = Task.CompletedTask;

    /// <summary>The table may have grown: check its statistics, unless a check ran within the interval or is running.</summary>
    public void MayHaveGrown()
    {
        var now = database.Time.GetUtcNow().UtcTicks;
        if (now < Interlocked.Read(ref _nextCheckTicks) || Interlocked.CompareExchange(ref _checking, 1, 0) != 0)
        {
            return;
        }

        Interlocked.Exchange(ref _nextCheckTicks, now + CheckInterval.Ticks);
        Checked = Task.Run(RefreshAsync);
    }

    private async Task RefreshAsync()
    {
        try
        {
            var (connection, command) = await database.ReadAsync(
                "SELECT c.relpages, pg_relation_size(c.oid) / current_setting('block_size')::bigint FROM pg_class c WHERE c.oid = to_regclass(@table)",
                CancellationToken.None).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.AddWithValue("table", $"{database.Schema}.{table}");
                long described;
                long pages;
                await using (var reader = await command.ExecuteReaderAsync().ConfigureAwait(false))
                {
                    if (!await reader.ReadAsync().ConfigureAwait(false))
                    {
                        return;
                    }

                    // relpages is 0 for a table never analyzed (nor vacuumed).
                    described = reader.GetInt32(0);
                    pages = reader.GetInt64(1);
                }

                if (pages <= 32 || pages <= 2 * described)
                {
                    return;
                }

                command.Parameters.Clear();
                command.CommandText = $"ANALYZE {database.Schema}.{table}";
                await command.ExecuteNonQueryAsync().ConfigureAwait(false);
                LogAnalyzed(logger, table, pages, described);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or ObjectDisposedException)
        {
            // Only an optimization: the statements work without it; the next sign of growth tries again.
            LogAnalyzeFailed(logger, ex, table);
        }
        finally
        {
            Volatile.Write(ref _checking, 0);
        }
    }

    [LoggerMessage(EventId = 301, Level = LogLevel.Debug, Message = "Analyzed table {Table}: {Pages} pages, its statistics described {Described}")]
    private static partial void LogAnalyzed(ILogger logger, string table, long pages, long described);

    [LoggerMessage(EventId = 302, Level = LogLevel.Debug, Message = "Could not check or refresh the statistics of table {Table}")]
    private static partial void LogAnalyzeFailed(ILogger logger, Exception exception, string table);
}

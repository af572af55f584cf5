using Npgsql;

namespace Baton.Benchmarks;

/// <summary>What every scenario shares: a scratch directory and the benchmark's PostgreSQL server.</summary>
public sealed class BenchEnvironment(string workDirectory, string? postgresConnectionString)
{
    private bool _cannotCheckpoint;

    public string WorkDirectory { get; } = workDirectory;

    public string? PostgresConnectionString { get; } = postgresConnectionString;

    /// <summary>A fresh name for a database file or schema.</summary>
    public static string NewName(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>
    /// Before each measurement: a PostgreSQL <c>CHECKPOINT</c>, and autovacuum done (up to 10 s), so no measurement
    /// pays for flushing and cleaning up what the one before it wrote (a raw batched rate right after a Baton repetition
    /// read 27.8k rows/s against 41k on a settled server). Without the right to checkpoint (a server given by <c>BATON_BENCH_POSTGRES</c>), it
    /// says so once and measurements go on unsettled.
    /// </summary>
    public async Task SettleAsync()
    {
        if (PostgresConnectionString is null || _cannotCheckpoint)
        {
            return;
        }

        try
        {
            await using var connection = new NpgsqlConnection(PostgresConnectionString);
            await connection.OpenAsync();
            await using var checkpoint = new NpgsqlCommand("CHECKPOINT", connection);
            await checkpoint.ExecuteNonQueryAsync();

            // Autovacuum cleaning up after the last measurement (the catalog rows of its dropped schema, its tables)
            // would take CPU from the next one: wait for it, up to a bound.
            await using var vacuuming = new NpgsqlCommand("SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'", connection);
            for (var waited = 0; waited < 100 && (long)(await vacuuming.ExecuteScalarAsync())! > 0; waited++)
            {
                await Task.Delay(100);
            }
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            _cannotCheckpoint = true;
            Console.Error.WriteLine($"note: no CHECKPOINT before measurements ({ex.MessageText})");
        }
    }

    /// <summary>A measurement's own database under a fresh name, removed when it is disposed.</summary>
    public ScratchDatabase NewDatabase(BenchStorage storage, string prefix) => new(this, storage, NewName(prefix));
}

using Npgsql;

namespace Baton.Benchmarks;

/// <summary>
/// The database of one measurement: a PostgreSQL schema or a SQLite file under a fresh name, removed when the
/// measurement ends, as the raw-storage and Hangfire measurements remove theirs. Left in place, the tables of finished
/// measurements would be vacuumed and analyzed by PostgreSQL's autovacuum while later measurements run, taking their
/// CPU.
/// </summary>
public sealed class ScratchDatabase(BenchEnvironment environment, BenchStorage storage, string name) : IAsyncDisposable
{
    public string Name { get; } = name;

    public async ValueTask DisposeAsync()
    {
        if (storage == BenchStorage.PostgreSql)
        {
            await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{Name}\" CASCADE", connection);
            await drop.ExecuteNonQueryAsync();
            return;
        }

        foreach (var suffix in new[] { ".db", ".db-wal", ".db-shm" })
        {
            File.Delete(Path.Combine(environment.WorkDirectory, Name + suffix));
        }
    }
}

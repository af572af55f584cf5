using Microsoft.Data.Sqlite;
using Npgsql;

namespace Baton.Benchmarks.Scenarios;

/// <summary>Reads Baton's tables directly, to tell when a benchmark's runs have all ended.</summary>
public static class DatabaseProbe
{
    public static async Task<long> UnfinishedRunsAsync(BenchEnvironment environment, BenchStorage storage, string database)
    {
        if (storage == BenchStorage.Sqlite)
        {
            await using var connection = new SqliteConnection($"Data Source={Path.Combine(environment.WorkDirectory, database + ".db")};Mode=ReadOnly");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM queue";
            return (long)(await command.ExecuteScalarAsync())!;
        }

        await using var pg = new NpgsqlConnection(environment.PostgresConnectionString);
        await pg.OpenAsync();
        await using var count = new NpgsqlCommand($"SELECT COUNT(*) FROM {database}.queue", pg);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Bytes the hot tables (runs, steps, queue) take: on SQLite the bytes of the values their rows hold (inputs,
    /// outputs, journal results: its build has no dbstat), on PostgreSQL their total relation size (with TOAST and indexes).
    /// </summary>
    public static async Task<long> HotTableBytesAsync(BenchEnvironment environment, BenchStorage storage, string database)
    {
        if (storage == BenchStorage.Sqlite)
        {
            await using var connection = new SqliteConnection($"Data Source={Path.Combine(environment.WorkDirectory, database + ".db")};Mode=ReadOnly");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT (SELECT COALESCE(SUM(LENGTH(input) + COALESCE(LENGTH(output), 0)), 0) FROM runs)
                     + (SELECT COALESCE(SUM(COALESCE(LENGTH(output), 0)), 0) FROM steps)
                """;
            return (long)(await command.ExecuteScalarAsync())!;
        }

        await using var pg = new NpgsqlConnection(environment.PostgresConnectionString);
        await pg.OpenAsync();
        await using var size = new NpgsqlCommand(
            $"SELECT pg_total_relation_size('{database}.runs') + pg_total_relation_size('{database}.steps') + pg_total_relation_size('{database}.queue')", pg);
        return (long)(await size.ExecuteScalarAsync())!;
    }

    /// <summary>How many runs wait for an event.</summary>
    public static async Task<long> WaitingRunsAsync(BenchEnvironment environment, BenchStorage storage, string database)
    {
        const string Sql = "SELECT COUNT(*) FROM {0}runs WHERE status = 6";
        if (storage == BenchStorage.Sqlite)
        {
            await using var connection = new SqliteConnection($"Data Source={Path.Combine(environment.WorkDirectory, database + ".db")};Mode=ReadOnly");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = string.Format(System.Globalization.CultureInfo.InvariantCulture, Sql, "");
            return (long)(await command.ExecuteScalarAsync())!;
        }

        await using var pg = new NpgsqlConnection(environment.PostgresConnectionString);
        await pg.OpenAsync();
        await using var count = new NpgsqlCommand(string.Format(System.Globalization.CultureInfo.InvariantCulture, Sql, database + "."), pg);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Polls until no run of the database is unfinished. With <paramref name="nearlyDone"/>, the database is only asked
    /// once it says every run has reached its last step in this process (as the Hangfire peer waits for its in-process
    /// counter before asking its storage), so the probe's own queries do not take CPU from the engine it measures.
    /// </summary>
    public static async Task WaitUntilDoneAsync(BenchEnvironment environment, BenchStorage storage, string database, TimeSpan timeout, Func<bool>? nearlyDone = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (nearlyDone is not null && !nearlyDone())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Runs in {database} did not reach their last step within {timeout}.");
            }

            await Task.Delay(5);
        }

        while (await UnfinishedRunsAsync(environment, storage, database) > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Runs in {database} did not finish within {timeout}.");
            }

            await Task.Delay(5);
        }
    }
}

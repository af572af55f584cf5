using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Baton.Benchmarks.Scenarios;

/// <summary>
/// The physical ceiling: rows shaped like Baton's checkpoints written straight to the database, one per transaction
/// and 100 per transaction, at the same durability as Baton's defaults (SQLite WAL with synchronous=NORMAL;
/// PostgreSQL synchronous_commit=on).
/// </summary>
public sealed class RawStorage(BenchEnvironment environment)
{
    private const string Output = "\"a step result of modest size, like most checkpoints\"";

    public async Task<double> RowsPerSecondAsync(BenchStorage storage, int rowsPerTransaction, TimeSpan duration) =>
        storage == BenchStorage.Sqlite ? SqliteRate(rowsPerTransaction, duration) : await PostgresRateAsync(rowsPerTransaction, duration);

    private double SqliteRate(int rowsPerTransaction, TimeSpan duration)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(environment.WorkDirectory, BenchEnvironment.NewName("raw") + ".db")}");
        connection.Open();
        Execute(connection, """
            PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
            CREATE TABLE steps (seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, key TEXT NOT NULL, kind INTEGER NOT NULL, status INTEGER NOT NULL,
                output TEXT, attempts INTEGER NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER, UNIQUE (run_id, key));
            """);
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO steps (run_id, key, kind, status, output, attempts, started_at, ended_at) VALUES ($run, $key, 0, 0, $output, 1, $t, $t)";
        var run = insert.Parameters.Add("$run", SqliteType.Text);
        var key = insert.Parameters.Add("$key", SqliteType.Text);
        insert.Parameters.AddWithValue("$output", Output);
        var t = insert.Parameters.Add("$t", SqliteType.Integer);
        var rows = 0L;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            using var transaction = connection.BeginTransaction();
            insert.Transaction = transaction;
            for (var i = 0; i < rowsPerTransaction; i++, rows++)
            {
                run.Value = Guid.NewGuid().ToString("N");
                key.Value = "step";
                t.Value = rows;
                insert.ExecuteNonQuery();
            }

            transaction.Commit();
        }

        return rows / clock.Elapsed.TotalSeconds;
    }

    private async Task<double> PostgresRateAsync(int rowsPerTransaction, TimeSpan duration)
    {
        var schema = BenchEnvironment.NewName("raw");
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync();
        await using (var create = new NpgsqlCommand($"""
            CREATE SCHEMA {schema};
            CREATE TABLE {schema}.steps (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, run_id text NOT NULL, key text NOT NULL, kind int NOT NULL,
                status int NOT NULL, output text, attempts int NOT NULL, started_at bigint NOT NULL, ended_at bigint, UNIQUE (run_id, key));
            """, connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        // Batched rows go in one statement, as Baton's writer sends them: arrays unnested into rows.
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO {schema}.steps (run_id, key, kind, status, output, attempts, started_at, ended_at)
            SELECT r, 'step', 0, 0, @output, 1, @t, @t FROM unnest(@runs) AS r
            """, connection);
        insert.Parameters.AddWithValue("output", Output);
        var t = new NpgsqlParameter<long> { ParameterName = "t", TypedValue = 0 };
        var runs = new NpgsqlParameter<string[]> { ParameterName = "runs", TypedValue = [] };
        insert.Parameters.Add(t);
        insert.Parameters.Add(runs);
        var rows = 0L;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            await using var transaction = await connection.BeginTransactionAsync();
            insert.Transaction = transaction;
            runs.TypedValue = [.. Enumerable.Range(0, rowsPerTransaction).Select(_ => Guid.NewGuid().ToString("N"))];
            t.TypedValue = rows;
            await insert.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
            rows += rowsPerTransaction;
        }

        var rate = rows / clock.Elapsed.TotalSeconds;
        await using var drop = new NpgsqlCommand($"DROP SCHEMA {schema} CASCADE", connection);
        await drop.ExecuteNonQueryAsync();
        return rate;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

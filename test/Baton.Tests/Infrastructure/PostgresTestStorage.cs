using System.Globalization;
using Baton.PostgreSql;
using Baton.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Baton.Tests.Infrastructure;

/// <summary>A fresh schema of its own on the shared test server: tests are isolated by schema, not by a lock.</summary>
public sealed class PostgresTestStorage : TestStorage
{
    public PostgresTestStorage(PostgresServer? server = null)
    {
        Server = server ?? PostgresServer.SharedAsync().GetAwaiter().GetResult();
        Schema = "t_" + Guid.NewGuid().ToString("N")[..16];
    }

    public PostgresServer Server { get; }

    public string Schema { get; }

    public override bool Exists => Scalar($"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{Schema}'", schemaless: true) > 0;

    public override void Configure(BatonBuilder builder) => builder.UsePostgreSql(Server.ConnectionString, o => o.Schema = Schema);

    public override IBatonStorage Create(TimeProvider time) =>
        new PostgreSqlStorage(NpgsqlDataSource.Create(Server.ConnectionString), ownsDataSource: true, new PostgreSqlOptions { Schema = Schema }, time, NullLoggerFactory.Instance);

    public override long Scalar(string sql) => Scalar(sql, schemaless: false);

    public override List<string[]> Rows(string sql)
    {
        using var connection = Open(schemaless: false);
        using var command = new NpgsqlCommand(sql, connection);
        using var reader = command.ExecuteReader();
        var rows = new List<string[]>();
        while (reader.Read())
        {
            var row = new string[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? "" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)!;
            }

            rows.Add(row);
        }

        return rows;
    }

    public override void Dispose()
    {
        try
        {
            using var connection = Open(schemaless: true);
            using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {Schema} CASCADE", connection);
            command.ExecuteNonQuery();
        }
        catch (NpgsqlException)
        {
            // The server may be gone (a restart test); its directory is removed anyway.
        }
    }

    public override string ToString() => "PostgreSQL schema " + Schema;

    private long Scalar(string sql, bool schemaless)
    {
        using var connection = Open(schemaless);
        using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private NpgsqlConnection Open(bool schemaless)
    {
        var connection = new NpgsqlConnection(schemaless ? Server.ConnectionString : Server.WithSearchPath(Schema));
        connection.Open();
        return connection;
    }
}

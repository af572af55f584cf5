using System.Net.Sockets;
using Baton.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Baton.PostgreSql;

/// <summary>Baton's storage on PostgreSQL, shared by any number of nodes.</summary>
internal sealed class PostgreSqlStorage : IBatonStorage
{
    private readonly PostgreSqlDatabase _database;

    public PostgreSqlStorage(NpgsqlDataSource dataSource, bool ownsDataSource, PostgreSqlOptions options, TimeProvider time, ILoggerFactory loggerFactory)
    {
        _database = new PostgreSqlDatabase(dataSource, ownsDataSource, options, time);
        var logger = loggerFactory.CreateLogger("Baton.PostgreSql");
        Events = new PostgreSqlEventStore(_database, logger);
        Runs = new PostgreSqlRunStore(_database);
        Queue = new PostgreSqlWorkQueue(_database, logger);
        Functions = new PostgreSqlFunctionCatalog(_database);
        Schedules = new PostgreSqlScheduleStore(_database);
    }

    public IEventStore Events { get; }

    public IRunStore Runs { get; }

    public IWorkQueue Queue { get; }

    public IFunctionCatalog Functions { get; }

    public IScheduleStore Schedules { get; }

    public string Schema => _database.Schema;

    public (long Commits, long Operations) WriterCounters => _database.Writer.Counters;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _database.InitializeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (Explain(ex) is { } message)
        {
            throw new BatonException(message, ex);
        }
    }

    public async Task CheckHealthAsync(CancellationToken cancellationToken)
    {
        try
        {
            var (connection, command) = await _database.ReadAsync($"SELECT 1 FROM {Schema}.schema_version LIMIT 1;", cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (Explain(ex) is { } message)
        {
            throw new BatonException(message, ex);
        }
    }

    public ValueTask DisposeAsync() => _database.DisposeAsync();

    /// <summary>Turns the usual start-up failures into a message that names the problem and what to do.</summary>
    private string? Explain(Exception ex)
    {
        var builder = new NpgsqlConnectionStringBuilder(_database.DataSource.ConnectionString);
        var server = $"{builder.Host}:{builder.Port}";
        return ex switch
        {
            PostgresException { SqlState: "28P01" or "28000" } =>
                $"PostgreSQL at {server} refused the credentials of user '{builder.Username}'. Check the user name and password in the connection string.",
            PostgresException { SqlState: "3D000" } =>
                $"PostgreSQL at {server} has no database '{builder.Database}'. Create it, or name an existing one in the connection string.",
            PostgresException { SqlState: "42501" } pg =>
                $"PostgreSQL user '{builder.Username}' lacks a permission Baton needs on schema '{Schema}' ({pg.MessageText}). " +
                $"Grant it CREATE on the database (or create schema '{Schema}' owned by this user), or choose another schema with PostgreSqlOptions.Schema.",
            NpgsqlException { InnerException: SocketException or TimeoutException } or NpgsqlException { InnerException: IOException } =>
                $"Cannot reach PostgreSQL at {server}: {ex.InnerException!.Message}. Check that the server runs and the host and port in the connection string.",
            _ => null,
        };
    }
}

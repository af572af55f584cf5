using Hangfire;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.Storage.SQLite;
using Npgsql;

namespace Baton.Benchmarks.Peers;

/// <summary>
/// One fresh Hangfire storage for one peer call: a new in-memory storage, a new SQLite file, or a new PostgreSQL
/// schema. Disposing it releases the storage and deletes the file or drops the schema.
/// </summary>
internal sealed class HangfireStorageScope : IAsyncDisposable
{
    /// <summary>The "fast" queue poll interval of the research (the default is 15 s).</summary>
    private static readonly TimeSpan QueuePollInterval = TimeSpan.FromMilliseconds(100);

    private readonly string? _sqlitePath;
    private readonly string? _postgresConnectionString;
    private readonly string? _postgresSchema;

    private HangfireStorageScope(JobStorage storage, string description, string? sqlitePath, string? postgresConnectionString, string? postgresSchema)
    {
        Storage = storage;
        Description = description;
        _sqlitePath = sqlitePath;
        _postgresConnectionString = postgresConnectionString;
        _postgresSchema = postgresSchema;
    }

    public JobStorage Storage { get; }

    /// <summary>Where another process finds the same storage (<see cref="Open"/>): the SQLite file or the PostgreSQL schema.</summary>
    public string? Locator => _sqlitePath ?? _postgresSchema;

    /// <summary>Names the storage in error messages.</summary>
    public string Description { get; }

    public static async Task<HangfireStorageScope> CreateAsync(
        PeerStorage kind, string workDirectory, string? postgresConnectionString, CancellationToken cancellationToken)
    {
        var suffix = Guid.NewGuid().ToString("N")[..12];
        switch (kind)
        {
            case PeerStorage.InMemory:
                return new HangfireStorageScope(new InMemoryStorage(new InMemoryStorageOptions()), "Hangfire.InMemory", null, null, null);

            case PeerStorage.Sqlite:
            {
                Directory.CreateDirectory(workDirectory);
                var path = Path.Combine(workDirectory, $"hangfire-{suffix}.db");
                return new HangfireStorageScope(Open(kind, path, null), $"Hangfire.Storage.SQLite ({path})", path, null, null);
            }

            case PeerStorage.PostgreSql:
            {
                if (postgresConnectionString is null)
                {
                    throw new InvalidOperationException("The Hangfire peer was asked for PostgreSql storage but was given no PostgreSQL connection string.");
                }

                var schema = "hangfire_" + suffix;
                try
                {
                    // The constructor installs the schema, synchronously.
                    var storage = await Task.Run(() => Open(kind, schema, postgresConnectionString), cancellationToken);
                    return new HangfireStorageScope(storage, $"Hangfire.PostgreSql (schema {schema})", null, postgresConnectionString, schema);
                }
                catch
                {
                    await DropSchemaAsync(postgresConnectionString, schema);
                    throw;
                }
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown Hangfire storage.");
        }
    }

    /// <summary>
    /// The durable storage at <paramref name="locator"/> (a SQLite file, or a PostgreSQL schema, installed if missing), with
    /// the peer's settings: this process's scope, or another process enqueueing into it.
    /// </summary>
    public static JobStorage Open(PeerStorage kind, string locator, string? postgresConnectionString)
    {
        if (kind == PeerStorage.Sqlite)
        {
            return new SQLiteStorage(locator, new SQLiteStorageOptions { QueuePollInterval = QueuePollInterval });
        }

        var options = new PostgreSqlStorageOptions
        {
            SchemaName = locator,
            PrepareSchemaIfNecessary = true,
            QueuePollInterval = QueuePollInterval,
            // Long polling with a short poll interval left jobs stuck in the research runs: keep it off.
            EnableLongPolling = false,
        };
        return new PostgreSqlStorage(new NpgsqlConnectionFactory(postgresConnectionString!, options, null), options);
    }

    public async ValueTask DisposeAsync()
    {
        (Storage as IDisposable)?.Dispose();
        if (_sqlitePath is not null)
        {
            foreach (var file in new[] { _sqlitePath, _sqlitePath + "-wal", _sqlitePath + "-shm", _sqlitePath + "-journal" })
            {
                try
                {
                    File.Delete(file);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Left for the work directory's owner to clean.
                }
            }
        }

        if (_postgresConnectionString is not null && _postgresSchema is not null)
        {
            await DropSchemaAsync(_postgresConnectionString, _postgresSchema);
        }
    }

    private static async Task DropSchemaAsync(string connectionString, string schema)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
        await command.ExecuteNonQueryAsync();
    }
}

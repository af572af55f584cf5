using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Baton.Sqlite;

/// <summary>The file, its connections (one writer, pooled readers) and value conversions shared by the stores.</summary>
internal sealed class SqliteDatabase : IAsyncDisposable
{
    private static readonly JsonSerializerOptions ErrorJson = new(JsonSerializerDefaults.Web);
    private readonly string _connectionString;
    private readonly SqliteOptions _options;
    private SqliteWriter? _writer;

    public SqliteDatabase(string path, SqliteOptions options, TimeProvider time)
    {
        FilePath = path;
        _options = options;
        Time = time;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();
    }

    public string FilePath { get; }

    public TimeProvider Time { get; }

    /// <summary>See <see cref="SqliteOptions.ChangePollInterval"/>.</summary>
    public TimeSpan? ChangePollInterval => _options.ChangePollInterval;

    public SqliteWriter Writer => _writer ?? throw new InvalidOperationException("Baton's SQLite storage is not initialized; the engine initializes it at start-up.");

    public void Initialize()
    {
        if (_writer is not null)
        {
            return;
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(FilePath));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        Pragmas(connection);
        SqliteSchema.Migrate(connection);
        _writer = new SqliteWriter(connection, _options.MaxBatchSize);
    }

    public SqliteConnection OpenRead()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void Pragmas(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        var synchronous = _options.Durability == SqliteDurability.PowerLoss ? "FULL" : "NORMAL";
        command.CommandText = string.Create(CultureInfo.InvariantCulture,
            $"PRAGMA busy_timeout={(long)_options.BusyTimeout.TotalMilliseconds}; PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA temp_store=MEMORY;");
        command.ExecuteNonQuery();
    }

    public static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    public static object MsOrNull(DateTimeOffset? time) => time is { } t ? t.ToUnixTimeMilliseconds() : DBNull.Value;

    public static DateTimeOffset Time0(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public static DateTimeOffset? TimeOrNull(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static string? StringOrNull(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static object ErrorToDb(RunError? error) => error is null ? DBNull.Value : JsonSerializer.Serialize(error, ErrorJson);

    public static RunError? ErrorFromDb(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : JsonSerializer.Deserialize<RunError>(reader.GetString(ordinal), ErrorJson);

    public static object Db(object? value) => value ?? DBNull.Value;
}

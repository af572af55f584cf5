using System.Text.Json;
using Npgsql;

namespace Baton.PostgreSql;

/// <summary>The data source, the schema, the writer and value conversions shared by the stores.</summary>
internal sealed class PostgreSqlDatabase : IAsyncDisposable
{
    private static readonly JsonSerializerOptions ErrorJson = new(JsonSerializerDefaults.Web);
    private readonly bool _ownsDataSource;
    private PostgreSqlWriter? _writer;

    public PostgreSqlDatabase(NpgsqlDataSource dataSource, bool ownsDataSource, PostgreSqlOptions options, TimeProvider time)
    {
        DataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        Options = options;
        Schema = options.Schema;
        Channel = "baton_work_" + options.Schema;
        Time = time;
    }

    public NpgsqlDataSource DataSource { get; }

    public PostgreSqlOptions Options { get; }

    public string Schema { get; }

    /// <summary>The LISTEN/NOTIFY channel on which nodes announce claimable work.</summary>
    public string Channel { get; }

    public TimeProvider Time { get; }

    public PostgreSqlWriter Writer => _writer ?? throw new InvalidOperationException("Baton's PostgreSQL storage is not initialized; the engine initializes it at start-up.");

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (_writer is not null)
        {
            return;
        }

        await PostgreSqlSchema.MigrateAsync(DataSource, Schema, cancellationToken).ConfigureAwait(false);
        _writer = new PostgreSqlWriter(DataSource, Channel, Options.MaxBatchSize);
    }

    /// <summary>A read command on a pooled connection; dispose the returned connection with it.</summary>
    public async Task<(NpgsqlConnection Connection, NpgsqlCommand Command)> ReadAsync(string sql, CancellationToken cancellationToken)
    {
        var connection = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return (connection, new NpgsqlCommand(sql, connection));
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }

        if (_ownsDataSource)
        {
            await DataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    public static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    public static long? MsOrNull(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds();

    public static DateTimeOffset Time0(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public static DateTimeOffset? TimeOrNull(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static string? StringOrNull(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static string? ErrorToDb(RunError? error) => error is null ? null : JsonSerializer.Serialize(error, ErrorJson);

    public static RunError? ErrorFromText(string? json) => json is null ? null : JsonSerializer.Deserialize<RunError>(json, ErrorJson);

    public static RunError? ErrorFromDb(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : JsonSerializer.Deserialize<RunError>(reader.GetString(ordinal), ErrorJson);
}

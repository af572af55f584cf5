using Baton.Storage;

namespace Baton.Sqlite;

/// <summary>Baton's storage on one SQLite file: WAL, one writer with group commit, pooled readers.</summary>
internal sealed class SqliteStorage : IBatonStorage
{
    private readonly SqliteDatabase _database;

    public SqliteStorage(string path, SqliteOptions options, TimeProvider time)
    {
        _database = new SqliteDatabase(path, options, time);
        Events = new SqliteEventStore(_database);
        Runs = new SqliteRunStore(_database);
        Queue = new SqliteWorkQueue(_database);
        Functions = new SqliteFunctionCatalog(_database);
        Schedules = new SqliteScheduleStore(_database);
    }

    public IEventStore Events { get; }

    public IRunStore Runs { get; }

    public IWorkQueue Queue { get; }

    public IFunctionCatalog Functions { get; }

    public IScheduleStore Schedules { get; }

    public string FilePath => _database.FilePath;

    public (long Commits, long Operations) WriterCounters => _database.Writer.Counters;

    /// <summary>The writer connection's <c>PRAGMA synchronous</c> (1 = NORMAL, 2 = FULL), to check the durability setting.</summary>
    internal Task<long> WriterSynchronousAsync() =>
        _database.Writer.WriteAsync(w => (long)w.Command("PRAGMA synchronous;").ExecuteScalar()!);

    public Task InitializeAsync(CancellationToken cancellationToken)
    {
        _database.Initialize();
        return Task.CompletedTask;
    }

    public Task CheckHealthAsync(CancellationToken cancellationToken)
    {
        using var connection = _database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1;";
        command.ExecuteScalar();
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => _database.DisposeAsync();
}

using System.Threading.Channels;
using Baton.Storage;
using Microsoft.Data.Sqlite;

namespace Baton.Sqlite;

/// <summary>
/// The single writer with group commit. Every write of the provider is queued here; the loop takes all that are
/// waiting (up to <see cref="SqliteOptions.MaxBatchSize"/>), runs each in a savepoint of one transaction, commits once,
/// and only then completes the callers' tasks: an awaited write is durable.
/// </summary>
internal sealed class SqliteWriter : IAsyncDisposable
{
    private readonly Channel<WriteOperation> _queue = Channel.CreateUnbounded<WriteOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SqliteConnection _connection;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private readonly int _maxBatch;
    private readonly Task _loop;

    public SqliteWriter(SqliteConnection connection, int maxBatch)
    {
        _connection = connection;
        _maxBatch = maxBatch;
        _loop = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Total transactions committed and operations written, for benchmarks and tests of group commit.</summary>
    public (long Commits, long Operations) Counters => (Interlocked.Read(ref _commits), Interlocked.Read(ref _operations));

    private long _commits;
    private long _operations;

    public Task<T> WriteAsync<T>(Func<SqliteWriter, T> work)
    {
        var operation = new WriteOperation<T>(work);
        if (!_queue.Writer.TryWrite(operation))
        {
            throw new ObjectDisposedException(nameof(SqliteWriter), "Baton's SQLite storage has been disposed.");
        }

        return operation.Task;
    }

    /// <summary>A prepared command for <paramref name="sql"/>, reused across writes, with its parameters cleared.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            _commands[sql] = command;
        }

        command.Parameters.Clear();
        return command;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        await foreach (var batch in _queue.Reader.ReadBatchesAsync(_maxBatch).ConfigureAwait(false))
        {
            try
            {
                WriteBatch(batch);
            }
            catch (Exception ex)
            {
                // Never let the loop die: a dead writer would leave every later write waiting forever.
                foreach (var operation in batch)
                {
                    operation.Fail(ex);
                }
            }
        }
    }

    private void WriteBatch(List<WriteOperation> batch)
    {
        try
        {
            Execute("BEGIN IMMEDIATE;");
            foreach (var operation in batch)
            {
                // A savepoint per operation: one that fails (a fenced lease, a constraint) rolls back alone.
                Execute("SAVEPOINT op;");
                try
                {
                    operation.Run(this);
                    Execute("RELEASE op;");
                }
                catch (Exception ex) when (ex is not SqliteException { SqliteErrorCode: 10 or 13 })
                {
                    Execute("ROLLBACK TO op;");
                    Execute("RELEASE op;");
                    operation.Fail(ex);
                }
            }

            Execute("COMMIT;");
        }
        catch (Exception ex)
        {
            TryRollback();
            foreach (var operation in batch)
            {
                operation.Fail(ex);
            }

            return;
        }

        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _operations, batch.Count);
        foreach (var operation in batch)
        {
            operation.Complete();
        }
    }

    private void Execute(string sql) => Command(sql).ExecuteNonQuery();

    private void TryRollback()
    {
        try
        {
            if (_connection.State == System.Data.ConnectionState.Open)
            {
                Execute("ROLLBACK;");
            }
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
        {
            // No transaction was open, or the connection is broken; either way there is nothing to roll back.
        }
    }

    private abstract class WriteOperation
    {
        public abstract void Run(SqliteWriter writer);

        public abstract void Complete();

        public abstract void Fail(Exception exception);
    }

    private sealed class WriteOperation<T>(Func<SqliteWriter, T> work) : WriteOperation
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;
        private bool _failed;

        public Task<T> Task => _completion.Task;

        public override void Run(SqliteWriter writer) => _result = work(writer);

        public override void Complete()
        {
            if (!_failed)
            {
                _completion.TrySetResult(_result);
            }
        }

        public override void Fail(Exception exception)
        {
            _failed = true;
            _completion.TrySetException(exception);
        }
    }
}

using System.Threading.Channels;
using Baton.Storage;
using Npgsql;

namespace Baton.PostgreSql;

/// <summary>
/// The group-commit writer of a node: every write is queued here; the loop runs all that are waiting (up to
/// <see cref="PostgreSqlOptions.MaxBatchSize"/>) in one transaction, commits once, and only then completes the callers'
/// tasks, so an awaited write is durable and many runs share one WAL flush. A transaction that made work available
/// sends one <c>NOTIFY</c> at commit, however many runs it made available.
/// </summary>
internal sealed class PostgreSqlWriter : IAsyncDisposable
{
    private readonly Channel<WriteOperation> _queue = Channel.CreateUnbounded<WriteOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _channel;
    private readonly int _maxBatch;
    private readonly Task _loop;
    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;
    private bool _notify;
    private long _commits;
    private long _operations;

    public PostgreSqlWriter(NpgsqlDataSource dataSource, string channel, int maxBatch)
    {
        _dataSource = dataSource;
        _channel = channel;
        _maxBatch = maxBatch;
        _loop = Task.Run(RunAsync);
    }

    public (long Commits, long Operations) Counters => (Interlocked.Read(ref _commits), Interlocked.Read(ref _operations));

    public Task<T> WriteAsync<T>(Func<PostgreSqlWriter, Task<T>> work)
    {
        var operation = new WriteOperation<T>(work);
        if (!_queue.Writer.TryWrite(operation))
        {
            throw new ObjectDisposedException(nameof(PostgreSqlWriter), "Baton's PostgreSQL storage has been disposed.");
        }

        return operation.Task;
    }

    /// <summary>A command on the writer's connection, inside the batch's transaction.</summary>
    public NpgsqlCommand Command(string sql) => new(sql, _connection, _transaction);

    /// <summary>Asks for one <c>NOTIFY</c> when this batch commits: it made runs claimable now.</summary>
    public void NotifyWork() => _notify = true;

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task RunAsync()
    {
        var batch = new List<WriteOperation>(_maxBatch);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _maxBatch && reader.TryRead(out var operation))
            {
                batch.Add(operation);
            }

            try
            {
                await WriteBatchAsync(batch).ConfigureAwait(false);
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

    private async Task WriteBatchAsync(List<WriteOperation> batch)
    {
        while (batch.Count > 0)
        {
            var culprit = await TryWriteAsync(batch).ConfigureAwait(false);
            if (culprit < 0)
            {
                return;
            }

            // One operation made PostgreSQL abort the transaction: it fails alone; the others are written again.
            batch.RemoveAt(culprit);
        }
    }

    /// <summary>Writes the batch in one transaction. Returns -1 when done, or the index of an operation that broke it.</summary>
    private async Task<int> TryWriteAsync(List<WriteOperation> batch)
    {
        try
        {
            _connection ??= await _dataSource.OpenConnectionAsync().ConfigureAwait(false);
            _transaction = await _connection.BeginTransactionAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await ResetConnectionAsync().ConfigureAwait(false);
            foreach (var operation in batch)
            {
                operation.Fail(ex);
            }

            return -1;
        }

        _notify = false;
        for (var i = 0; i < batch.Count; i++)
        {
            try
            {
                await batch[i].RunAsync(this).ConfigureAwait(false);
            }
            catch (LeaseLostException ex)
            {
                // Fenced writes check the lease before writing anything, so the transaction is intact.
                batch[i].Fail(ex);
            }
            catch (PostgresException ex) when (!ex.IsTransient && _connection.State == System.Data.ConnectionState.Open)
            {
                await RollbackAsync().ConfigureAwait(false);
                batch[i].Fail(ex);
                return i;
            }
            catch (Exception ex)
            {
                // The connection broke (or worse): nothing of this batch is known to be written; every caller hears so.
                await ResetConnectionAsync().ConfigureAwait(false);
                foreach (var operation in batch)
                {
                    operation.Fail(ex);
                }

                return -1;
            }
        }

        try
        {
            if (_notify)
            {
                await using var notify = Command("SELECT pg_notify(@channel, '');");
                notify.Parameters.AddWithValue("channel", _channel);
                await notify.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            await _transaction.CommitAsync().ConfigureAwait(false);
            await _transaction.DisposeAsync().ConfigureAwait(false);
            _transaction = null;
        }
        catch (Exception ex)
        {
            // A commit that failed (or whose answer was lost) is reported as failed; callers retry or give the run up.
            await ResetConnectionAsync().ConfigureAwait(false);
            foreach (var operation in batch)
            {
                operation.Fail(ex);
            }

            return -1;
        }

        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _operations, batch.Count);
        foreach (var operation in batch)
        {
            operation.Complete();
        }

        return -1;
    }

    private async Task RollbackAsync()
    {
        try
        {
            await _transaction!.RollbackAsync().ConfigureAwait(false);
            await _transaction.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            await ResetConnectionAsync().ConfigureAwait(false);
        }

        _transaction = null;
    }

    private async Task ResetConnectionAsync()
    {
        _transaction = null;
        var connection = _connection;
        _connection = null;
        if (connection is not null)
        {
            try
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
            {
                // Already broken.
            }
        }
    }

    private abstract class WriteOperation
    {
        public abstract Task RunAsync(PostgreSqlWriter writer);

        public abstract void Complete();

        public abstract void Fail(Exception exception);
    }

    private sealed class WriteOperation<T>(Func<PostgreSqlWriter, Task<T>> work) : WriteOperation
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;
        private bool _failed;

        public Task<T> Task => _completion.Task;

        public override async Task RunAsync(PostgreSqlWriter writer)
        {
            _failed = false;
            _result = await work(writer).ConfigureAwait(false);
        }

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

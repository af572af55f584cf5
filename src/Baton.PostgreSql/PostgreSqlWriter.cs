using System.Threading.Channels;
using Baton.Storage;
using Npgsql;

namespace Baton.PostgreSql;

/// <summary>
/// The group-commit writer of a node. Every write is a few statements plus a function that interprets their results.
/// The loop takes all writes that are waiting (up to <see cref="PostgreSqlOptions.MaxBatchSize"/>), sends all their
/// statements as <b>one batch in one transaction</b> (one round trip, one commit, one WAL flush), and only then
/// completes the callers' tasks: an awaited write is durable. A transaction that made work claimable sends one
/// <c>NOTIFY</c> at commit, however many runs it made available.
/// </summary>
/// <remarks>
/// Writes fenced by a lease are single statements conditioned on the lease, so a lost lease writes nothing and leaves
/// the transaction intact; the interpreter then reports <see cref="LeaseLostException"/> to that caller alone. A
/// statement that makes PostgreSQL abort the transaction fails its own write; the rest of the batch is sent again.
/// </remarks>
internal sealed class PostgreSqlWriter : IAsyncDisposable
{
    private readonly Channel<WriteOperation> _queue = Channel.CreateUnbounded<WriteOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _channel;
    private readonly int _maxBatch;
    private readonly Task _loop;
    private NpgsqlConnection? _connection;
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

    /// <summary>Queues a write: its statements, and how to turn their results into the caller's answer.</summary>
    /// <param name="commands">The statements, run in order in the batch's transaction.</param>
    /// <param name="interpret">Turns the statements' results into the result; may throw <see cref="LeaseLostException"/>.</param>
    /// <param name="notifiesWork">Whether the write makes runs claimable now (one NOTIFY per transaction).</param>
    public Task<T> WriteAsync<T>(IReadOnlyList<PgCommand> commands, Func<IReadOnlyList<PgResult>, T> interpret, bool notifiesWork = false)
    {
        var operation = new WriteOperation<T>(commands, interpret, notifiesWork);
        if (!_queue.Writer.TryWrite(operation))
        {
            throw new ObjectDisposedException(nameof(PostgreSqlWriter), "Baton's PostgreSQL storage has been disposed.");
        }

        return operation.Task;
    }

    public Task<T> WriteAsync<T>(PgCommand command, Func<PgResult, T> interpret, bool notifiesWork = false) =>
        WriteAsync([command], results => interpret(results[0]), notifiesWork);

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
        await foreach (var batch in _queue.Reader.ReadBatchesAsync(_maxBatch).ConfigureAwait(false))
        {
            try
            {
                while (batch.Count > 0 && await TryWriteAsync(batch).ConfigureAwait(false) is var culprit and >= 0)
                {
                    // One write made PostgreSQL abort the transaction: it fails alone; the others are sent again.
                    batch.RemoveAt(culprit);
                }
            }
            catch (Exception ex)
            {
                // Never let the loop die: a dead writer would leave every later write waiting forever.
                await ResetConnectionAsync().ConfigureAwait(false);
                foreach (var operation in batch)
                {
                    operation.Fail(ex);
                }
            }
        }
    }

    /// <summary>Writes the batch in one transaction. Returns -1 when done, or the index of a write that broke it.</summary>
    private async Task<int> TryWriteAsync(List<WriteOperation> operations)
    {
        _connection ??= await _dataSource.OpenConnectionAsync().ConfigureAwait(false);
        await using var transaction = await _connection.BeginTransactionAsync().ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(_connection, transaction);
        var owners = new List<int>();
        for (var i = 0; i < operations.Count; i++)
        {
            foreach (var command in operations[i].Commands)
            {
                batch.BatchCommands.Add(command.ToBatchCommand());
                owners.Add(i);
            }
        }

        var returnsRows = operations.SelectMany(o => o.Commands).Select(c => c.ReturnsRows).ToList();
        if (operations.Any(o => o.NotifiesWork))
        {
            batch.BatchCommands.Add(new PgCommand("SELECT pg_notify(@channel, '')", returnsRows: true).With("channel", _channel).ToBatchCommand());
            owners.Add(-1);
            returnsRows.Add(true);
        }

        var rowsByCommand = new List<object?[]>[owners.Count];
        try
        {
            await using (var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false))
            {
                // The reader yields a result set only for statements that return rows; the others are skipped.
                var first = true;
                for (var i = 0; i < owners.Count; i++)
                {
                    rowsByCommand[i] = [];
                    if (!returnsRows[i])
                    {
                        continue;
                    }

                    if (!first)
                    {
                        await reader.NextResultAsync().ConfigureAwait(false);
                    }

                    first = false;
                    while (await reader.ReadAsync().ConfigureAwait(false))
                    {
                        var row = new object?[reader.FieldCount];
                        reader.GetValues(row!);
                        for (var c = 0; c < row.Length; c++)
                        {
                            row[c] = row[c] is DBNull ? null : row[c];
                        }

                        rowsByCommand[i].Add(row);
                    }
                }

                while (await reader.NextResultAsync().ConfigureAwait(false))
                {
                    // Drain, so every statement has run and reported its row count.
                }
            }
        }
        catch (PostgresException ex) when (ex.BatchCommand is { } failed && !ex.IsTransient)
        {
            await transaction.RollbackAsync().ConfigureAwait(false);
            var owner = owners[batch.BatchCommands.IndexOf(failed)];
            if (owner < 0)
            {
                throw;
            }

            operations[owner].Fail(ex);
            return owner;
        }
        catch (Exception)
        {
            // The connection broke (or worse): nothing of this batch is known to be written; every caller hears so.
            await ResetConnectionAsync().ConfigureAwait(false);
            throw;
        }

        var results = rowsByCommand.Select((rows, i) => new PgResult(rows, batch.BatchCommands[i].RecordsAffected)).ToList();
        var offset = 0;
        foreach (var operation in operations)
        {
            // Fenced writes wrote nothing when their lease was lost, so a failed interpretation leaves the rest intact.
            operation.Interpret(results.GetRange(offset, operation.Commands.Count));
            offset += operation.Commands.Count;
        }

        try
        {
            await transaction.CommitAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A commit that failed (or whose answer was lost) is reported as failed; callers retry or give the run up.
            await ResetConnectionAsync().ConfigureAwait(false);
            throw;
        }

        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _operations, operations.Count);
        foreach (var operation in operations)
        {
            operation.Complete();
        }

        return -1;
    }

    private async Task ResetConnectionAsync()
    {
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

    private abstract class WriteOperation(IReadOnlyList<PgCommand> commands, bool notifiesWork)
    {
        public IReadOnlyList<PgCommand> Commands { get; } = commands;

        public bool NotifiesWork { get; } = notifiesWork;

        public abstract void Interpret(IReadOnlyList<PgResult> results);

        public abstract void Complete();

        public abstract void Fail(Exception exception);
    }

    private sealed class WriteOperation<T>(IReadOnlyList<PgCommand> commands, Func<IReadOnlyList<PgResult>, T> interpret, bool notifiesWork)
        : WriteOperation(commands, notifiesWork)
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;
        private Exception? _error;

        public Task<T> Task => _completion.Task;

        public override void Interpret(IReadOnlyList<PgResult> results)
        {
            try
            {
                _error = null;
                _result = interpret(results);
            }
            catch (Exception ex)
            {
                _error = ex;
            }
        }

        public override void Complete()
        {
            if (_error is not null)
            {
                _completion.TrySetException(_error);
            }
            else
            {
                _completion.TrySetResult(_result);
            }
        }

        public override void Fail(Exception exception) => _completion.TrySetException(exception);
    }
}

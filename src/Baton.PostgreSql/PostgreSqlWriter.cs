using System.Threading.Channels;
using Baton.Storage;
using Npgsql;

namespace Baton.PostgreSql;

/// <summary>
/// The group-commit writer of a node. Every write is a few statements plus a function that interprets their results.
/// The loop takes all writes that are waiting (up to <see cref="PostgreSqlOptions.MaxBatchSize"/>), sends all their
/// statements as <b>one batch in one transaction</b> (one round trip, one commit, one WAL flush; a write whose next
/// statements depend on its first results takes a further round trip in the same transaction), and only then
/// completes the callers' tasks: an awaited write is durable. A transaction that made work claimable sends one
/// <c>NOTIFY</c> at commit, however many runs it made available.
/// </summary>
/// <remarks>
/// <para>
/// Writes fenced by a lease are single statements conditioned on the lease, so a lost lease writes nothing and leaves
/// the transaction intact; the interpreter then reports <see cref="LeaseLostException"/> to that caller alone. A
/// statement that makes PostgreSQL abort the transaction fails its own write; the rest of the batch is sent again.
/// </para>
/// <para>
/// <b>Two batches in flight.</b> The writer has two connections. While one batch executes and commits, the loop sends
/// the writes waiting since on the other, so the database works on one batch while .NET reads and answers the other,
/// and one batch's statements run while the other's commit waits for its flush. Two open transactions of one node that
/// both take row locks could each wait for a row the other holds (a deadlock, which PostgreSQL breaks only after a
/// second by failing one), so at most one batch in flight holds writes that take row locks; while it does, the other
/// carries only <see cref="PgRound{T}.LockFree"/> writes (step checkpoints) and the rest wait for the next batch. A
/// checkpoint may therefore commit before a write queued just ahead of it; a caller that needs one write to land before
/// another awaits the first, as every caller does.
/// </para>
/// </remarks>
internal sealed class PostgreSqlWriter : IAsyncDisposable
{
    private readonly Channel<WriteOperation> _queue = Channel.CreateUnbounded<WriteOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _channel;
    private readonly int _maxBatch;
    private readonly Task _loop;
    private readonly Lane[] _lanes = [new(), new()];
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
    /// <param name="lockFree">Whether the write takes no row lock another write may want (see <see cref="PgRound{T}.LockFree"/>).</param>
    public Task<T> WriteAsync<T>(IReadOnlyList<PgCommand> commands, Func<IReadOnlyList<PgResult>, T> interpret, bool notifiesWork = false, bool lockFree = false) =>
        WriteAsync(new PgRound<T>(commands, results => PgNext<T>.Done(interpret(results)), notifiesWork, Final: true, LockFree: lockFree));

    public Task<T> WriteAsync<T>(PgCommand command, Func<PgResult, T> interpret, bool notifiesWork = false, bool lockFree = false) =>
        WriteAsync([command], results => interpret(results[0]), notifiesWork, lockFree);

    /// <summary>Queues a write of one or more rounds, all in the same transaction as the other writes of its batch.</summary>
    public Task<T> WriteAsync<T>(PgRound<T> first)
    {
        var operation = new WriteOperation<T>(first);
        if (!_queue.Writer.TryWrite(operation))
        {
            throw new ObjectDisposedException(nameof(PostgreSqlWriter), "Baton's PostgreSQL storage has been disposed.");
        }

        return operation.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (var lane in _lanes)
        {
            if (lane.Connection is not null)
            {
                await lane.Connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task RunAsync()
    {
        // Writes that take locks, read while the other lane's batch holds some: they wait for it to end.
        var held = new List<WriteOperation>();
        Task<bool>? arrival = null;
        var open = true;
        while (true)
        {
            foreach (var lane in _lanes)
            {
                if (lane.InFlight is { IsCompleted: true })
                {
                    lane.InFlight = null;
                    lane.Locking = false;
                }
            }

            var free = Array.Find(_lanes, l => l.InFlight is null);
            if (free is not null)
            {
                var lockedElsewhere = Array.Exists(_lanes, l => l.Locking);
                var batch = new List<WriteOperation>();
                if (!lockedElsewhere)
                {
                    var count = Math.Min(held.Count, _maxBatch);
                    batch.AddRange(held.Take(count));
                    held.RemoveRange(0, count);
                }

                while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var operation))
                {
                    (lockedElsewhere && !operation.IsLockFree ? held : batch).Add(operation);
                }

                if (batch.Count > 0)
                {
                    free.InFlight = WriteBatchAsync(batch, free);
                    free.Locking = batch.Exists(o => !o.IsLockFree);
                    continue;
                }
            }

            // Nothing to send now: wait for a batch to end, or, with a lane free, for a write to arrive.
            var waits = _lanes.Where(l => l.InFlight is not null).Select(l => l.InFlight!).ToList();
            if (open && free is not null)
            {
                arrival ??= _queue.Reader.WaitToReadAsync().AsTask();
                waits.Add(arrival);
            }

            if (waits.Count == 0)
            {
                return; // disposed, and every write is written
            }

            if (await Task.WhenAny(waits).ConfigureAwait(false) == arrival)
            {
                open = await arrival.ConfigureAwait(false);
                arrival = null;
            }
        }
    }

    /// <summary>Writes one batch on a lane, failing alone a write that breaks the transaction; every write gets its answer.</summary>
    private async Task WriteBatchAsync(List<WriteOperation> batch, Lane lane)
    {
        try
        {
            var fold = true;
            while (batch.Count > 0 && await TryWriteAsync(batch, fold, lane).ConfigureAwait(false) is var culprit and not Written)
            {
                if (culprit == FoldedStatementFailed)
                {
                    // A folded statement broke the transaction: which of its rows did is unknown, so the batch is
                    // sent again with every statement on its own, and the failure falls on its own write.
                    fold = false;
                    continue;
                }

                // One write made PostgreSQL abort the transaction: it fails alone; the others are sent again.
                batch.RemoveAt(culprit);
            }
        }
        catch (Exception ex)
        {
            // Every caller hears first (a caller left waiting would wait forever), then the connection is dropped.
            foreach (var operation in batch)
            {
                operation.Fail(ex);
            }

            await ResetConnectionAsync(lane).ConfigureAwait(false);
        }
    }

    private const int Written = -1;
    private const int FoldedStatementFailed = -2;

    /// <summary>
    /// Writes the batch in one transaction: every write's first round in one round trip, then the further rounds of the
    /// writes that have them, then one commit. The transaction's <c>BEGIN</c> goes with the first round, and its
    /// <c>COMMIT</c> with the last when every write is at a round that asks for no other (most batches: one round trip in
    /// all). Returns <see cref="Written"/> when done, the index of a write that broke the transaction, or
    /// <see cref="FoldedStatementFailed"/>.
    /// </summary>
    private async Task<int> TryWriteAsync(List<WriteOperation> operations, bool fold, Lane lane)
    {
        lane.Connection ??= await _dataSource.OpenConnectionAsync().ConfigureAwait(false);
        foreach (var operation in operations)
        {
            operation.Begin();
        }

        var notified = false;
        var begun = false;
        var committed = false;
        var active = operations.Select((o, i) => (Operation: o, Index: i)).ToList();
        try
        {
            while (active.Count > 0)
            {
                var notify = !notified && active.Any(a => a.Operation.NotifiesWork);
                notified |= notify;
                var commit = active.TrueForAll(a => a.Operation.IsFinalRound);
                var culprit = await RunRoundAsync(active, notify, fold, begin: !begun, commit, lane).ConfigureAwait(false);
                begun = true;
                if (culprit != Written)
                {
                    return culprit;
                }

                committed = commit;
                active.RemoveAll(a => a.Operation.IsDone);
            }

            if (!committed)
            {
                await using var commit = new NpgsqlCommand("COMMIT", lane.Connection);
                await commit.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // The connection broke, or a commit failed (or its answer was lost): nothing of this batch is known to be
            // written, and the connection's state is unknown; every caller hears so, and retries or gives the run up.
            await ResetConnectionAsync(lane).ConfigureAwait(false);
            throw;
        }

        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _operations, operations.Count);
        foreach (var operation in operations)
        {
            operation.Complete();
        }

        return Written;
    }

    /// <summary>
    /// Sends the current round of every active write as one batch and hands each its results. With <paramref name="fold"/>,
    /// single-statement rounds of the same <see cref="PgMerge.Kind"/> go as one multi-row statement.
    /// </summary>
    private async Task<int> RunRoundAsync(List<(WriteOperation Operation, int Index)> active, bool notify, bool fold, bool begin, bool commit, Lane lane)
    {
        await using var batch = new NpgsqlBatch(lane.Connection);

        // Each statement sent, and the parts it answers: (position in active, command of that write's round).
        var statements = new List<(PgCommand Command, List<(int Active, int Command)> Parts)>();
        var folds = new Dictionary<string, (int Statement, HashSet<string> Identities)>(StringComparer.Ordinal);
        for (var a = 0; a < active.Count; a++)
        {
            var commands = active[a].Operation.Commands;
            for (var c = 0; c < commands.Count; c++)
            {
                if (fold && commands.Count == 1 && commands[c].Merge is { } merge)
                {
                    if (folds.TryGetValue(merge.Kind, out var open) && open.Identities.Add(merge.Identity))
                    {
                        statements[open.Statement].Parts.Add((a, c));
                        continue;
                    }

                    if (open.Identities is null)
                    {
                        folds[merge.Kind] = (statements.Count, new HashSet<string>(active.Count, StringComparer.Ordinal) { merge.Identity });
                    }
                }

                statements.Add((commands[c], [(a, c)]));
            }
        }

        // Each batch command's write (-1: none), whether it returns rows, whether it is folded.
        var owners = new List<int>();
        var returnsRows = new List<bool>();
        var folded = new List<bool>();
        void AddOwnStatement(string sql, bool rows)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(sql));
            owners.Add(-1);
            returnsRows.Add(rows);
            folded.Add(false);
        }

        if (begin)
        {
            AddOwnStatement("BEGIN", rows: false);
        }

        var offset = batch.BatchCommands.Count;
        for (var i = 0; i < statements.Count; i++)
        {
            var (command, parts) = statements[i];
            if (parts.Count > 1)
            {
                var merge = command.Merge!;
                command = merge.Build([.. parts.Select(p => active[p.Active].Operation.Commands[p.Command].Merge!.Row)]);
                statements[i] = (command, parts);
            }

            batch.BatchCommands.Add(command.ToBatchCommand());
            owners.Add(active[parts[0].Active].Index);
            returnsRows.Add(command.ReturnsRows);
            folded.Add(parts.Count > 1);
        }

        if (notify)
        {
            batch.BatchCommands.Add(new PgCommand("SELECT pg_notify(@channel, '')", returnsRows: true).With("channel", _channel).ToBatchCommand());
            owners.Add(-1);
            returnsRows.Add(true);
            folded.Add(false);
        }

        if (commit)
        {
            // After a failed statement PostgreSQL skips the rest of the batch, this too: the transaction stays open, failed.
            AddOwnStatement("COMMIT", rows: false);
        }

        var rowsByCommand = new List<object?[]>[owners.Count];
        try
        {
            await using var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);

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
        catch (PostgresException ex) when (!ex.IsTransient && FailedStatement(batch, ex) is var position and >= 0)
        {
            await using (var rollback = new NpgsqlCommand("ROLLBACK", lane.Connection))
            {
                await rollback.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            if (folded[position])
            {
                return FoldedStatementFailed;
            }

            var owner = owners[position];
            if (owner < 0)
            {
                throw;
            }

            active.Single(a => a.Index == owner).Operation.Fail(ex);
            return owner;
        }
        catch (Exception)
        {
            // The connection broke (or worse): nothing of this batch is known to be written; every caller hears so.
            await ResetConnectionAsync(lane).ConfigureAwait(false);
            throw;
        }

        var results = active.Select(a => new PgResult[a.Operation.Commands.Count]).ToList();
        for (var i = 0; i < statements.Count; i++)
        {
            var result = new PgResult(rowsByCommand[offset + i], batch.BatchCommands[offset + i].RecordsAffected);
            foreach (var (a, c) in statements[i].Parts)
            {
                var merge = active[a].Operation.Commands[c].Merge;
                results[a][c] = folded[offset + i] ? merge!.Split(result, merge.Row) : result;
            }
        }

        for (var a = 0; a < active.Count; a++)
        {
            // Fenced writes wrote nothing when their lease was lost, so a failed interpretation leaves the rest intact.
            active[a].Operation.Continue(results[a]);
        }

        return Written;
    }

    /// <summary>
    /// The position in the batch of the statement PostgreSQL failed, or -1. Npgsql names it on the exception only when the
    /// connection string says <c>Include Failed Statement</c> (off by default since Npgsql 10, and the data source may be
    /// the application's); otherwise it is the first statement that did not complete (a statement's type is known once
    /// PostgreSQL has reported it done, and the statements after a failed one are skipped).
    /// </summary>
    private static int FailedStatement(NpgsqlBatch batch, PostgresException exception)
    {
        if (exception.BatchCommand is { } failed)
        {
            return batch.BatchCommands.IndexOf(failed);
        }

        for (var i = 0; i < batch.BatchCommands.Count; i++)
        {
            if (batch.BatchCommands[i].StatementType == StatementType.Unknown)
            {
                return i;
            }
        }

        return -1;
    }

    private static async Task ResetConnectionAsync(Lane lane)
    {
        var connection = lane.Connection;
        lane.Connection = null;
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

    /// <summary>One of the writer's two connections (opened when first needed, and again after a failure).</summary>
    private sealed class Lane
    {
        public NpgsqlConnection? Connection { get; set; }

        /// <summary>The batch being written on it (<see cref="WriteBatchAsync"/>), null when free.</summary>
        public Task? InFlight { get; set; }

        /// <summary>Whether that batch holds writes that are not lock free.</summary>
        public bool Locking { get; set; }
    }

    private abstract class WriteOperation
    {
        /// <summary>The statements of the current round.</summary>
        public abstract IReadOnlyList<PgCommand> Commands { get; }

        public abstract bool NotifiesWork { get; }

        /// <summary>Whether the write takes no row lock another may want (see <see cref="PgRound{T}.LockFree"/>).</summary>
        public abstract bool IsLockFree { get; }

        public abstract bool IsDone { get; }

        /// <summary>Whether the current round is one that never asks for another (see <see cref="PgRound{T}.Final"/>).</summary>
        public abstract bool IsFinalRound { get; }

        /// <summary>Starts (again, when a batch is sent again) from the first round.</summary>
        public abstract void Begin();

        /// <summary>Takes the current round's results: the answer (or an error), or the next round.</summary>
        public abstract void Continue(IReadOnlyList<PgResult> results);

        public abstract void Complete();

        public abstract void Fail(Exception exception);
    }

    private sealed class WriteOperation<T>(PgRound<T> first) : WriteOperation
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private PgRound<T>? _round;
        private bool _notifies;
        private T _result = default!;
        private Exception? _error;

        public Task<T> Task => _completion.Task;

        public override IReadOnlyList<PgCommand> Commands => _round?.Commands ?? [];

        public override bool NotifiesWork => _notifies;

        public override bool IsLockFree => first.LockFree;

        public override bool IsDone => _round is null;

        public override bool IsFinalRound => _round?.Final ?? true;

        public override void Begin()
        {
            _round = first;
            _notifies = first.NotifiesWork;
            _error = null;
            _result = default!;
        }

        public override void Continue(IReadOnlyList<PgResult> results)
        {
            try
            {
                var next = _round!.Then(results);
                if (_round.Final && next.Round is not null)
                {
                    // Its batch's commit went with this round: another would run outside the transaction.
                    throw new InvalidOperationException("A write's round marked final asked for another round.");
                }

                _round = next.Round;
                if (_round is null)
                {
                    _result = next.Value;
                }
                else
                {
                    _notifies |= _round.NotifiesWork;
                }
            }
            catch (Exception ex)
            {
                _round = null;
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

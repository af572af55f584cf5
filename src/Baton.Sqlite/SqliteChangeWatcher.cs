using Microsoft.Data.Sqlite;

namespace Baton.Sqlite;

/// <summary>
/// Notices commits by other connections to the database file (<c>PRAGMA data_version</c>, read every
/// <see cref="SqliteOptions.ChangePollInterval"/> on a connection of its own) and calls back, so a worker starts a run
/// that another process created (an app sending through <c>baton dev</c>, a second app on the same file) within
/// milliseconds instead of at its next poll. The pragma reads a counter in shared memory: no disk access, no lock.
/// </summary>
/// <remarks>
/// This process's own commits change the counter too; the extra call makes the worker look for work once more, which is
/// at most one claim query per interval.
/// </remarks>
internal sealed class SqliteChangeWatcher : IDisposable
{
    private readonly SqliteDatabase _database;
    private readonly Action _onChange;
    private readonly TimeSpan _interval;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;

    public SqliteChangeWatcher(SqliteDatabase database, TimeSpan interval, Action onChange)
    {
        _database = database;
        _interval = interval;
        _onChange = onChange;
        _loop = Task.Run(() => WatchAsync(_stopping.Token));
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _loop.Wait(TimeSpan.FromSeconds(5));
        _stopping.Dispose();
    }

    private async Task WatchAsync(CancellationToken stopping)
    {
        SqliteConnection? connection = null;
        long? seen = null;
        try
        {
            while (true)
            {
                // One delay at a time (not a periodic timer): a test clock jumping ahead by days wakes it once.
                await Task.Delay(_interval, _database.Time, stopping).ConfigureAwait(false);
                try
                {
                    // data_version is per connection: the same one must read it every time.
                    connection ??= _database.OpenRead();
                    using var command = connection.CreateCommand();
                    command.CommandText = "PRAGMA data_version;";
                    var version = (long)command.ExecuteScalar()!;
                    if (seen is { } before && before != version)
                    {
                        _onChange();
                    }

                    seen = version;
                }
                catch (SqliteException)
                {
                    // The file is briefly unavailable (a backup, a busy disk): open afresh at the next tick; the worker's
                    // poll covers the gap.
                    connection?.Dispose();
                    connection = null;
                    seen = null;
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Disposed.
        }
        finally
        {
            connection?.Dispose();
        }
    }
}

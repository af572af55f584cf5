using Microsoft.Extensions.Logging;
using Npgsql;

namespace Baton.PostgreSql;

/// <summary>
/// Listens on the work channel on a connection of its own and calls back on every notification, so an idle node starts
/// a run created on another node within milliseconds, and stops a run another node cancelled at once. Reconnects by
/// itself; the worker's slow poll (and heartbeat, for cancellations) covers the gaps.
/// </summary>
internal sealed partial class PostgreSqlListener : IDisposable
{
    private readonly PostgreSqlDatabase _database;
    private readonly Action _onWork;
    private readonly Action<string>? _onCancelled;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;

    public PostgreSqlListener(PostgreSqlDatabase database, Action onWork, Action<string>? onCancelled, ILogger logger)
    {
        _database = database;
        _onWork = onWork;
        _onCancelled = onCancelled;
        _logger = logger;
        _loop = Task.Run(() => ListenAsync(_stopping.Token));
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _loop.Wait(TimeSpan.FromSeconds(5));
        _stopping.Dispose();
    }

    private async Task ListenAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _database.DataSource.OpenConnectionAsync(stopping).ConfigureAwait(false);
                connection.Notification += (_, e) =>
                {
                    // A cancellation names its run ("cancel:<id>"); any other payload announces work.
                    if (e.Payload.StartsWith(PostgreSqlWrites.CancelPrefix, StringComparison.Ordinal))
                    {
                        _onCancelled?.Invoke(e.Payload[PostgreSqlWrites.CancelPrefix.Length..]);
                    }
                    else
                    {
                        _onWork();
                    }
                };
                await using (var listen = new NpgsqlCommand($"LISTEN \"{_database.Channel}\";", connection))
                {
                    await listen.ExecuteNonQueryAsync(stopping).ConfigureAwait(false);
                }

                // Work may have been announced while this connection was down.
                _onWork();
                while (true)
                {
                    await connection.WaitAsync(stopping).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogListenFailed(_logger, ex, _database.Options.ListenReconnectDelay);
                await Task.Delay(_database.Options.ListenReconnectDelay, _database.Time, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Listening for work notifications failed; reconnecting in {Delay} (polling continues meanwhile)")]
    private static partial void LogListenFailed(ILogger logger, Exception exception, TimeSpan delay);
}

using System.Collections.Concurrent;
using Baton.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Baton.Engine;

/// <summary>
/// The worker of a node: claims due runs under leases, executes them in-process up to
/// <see cref="BatonOptions.MaxConcurrentRuns"/> at once, renews its leases, and on shutdown lets in-flight steps
/// finish before releasing what is left.
/// </summary>
internal sealed partial class BatonWorker(BatonEngine engine) : IHostedService, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, (RunExecution Execution, Task Task)> _running = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private Task _claimLoop = Task.CompletedTask;
    private Task _heartbeatLoop = Task.CompletedTask;

    private BatonOptions Options => engine.Options;

    private ILogger Logger => engine.Logger;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await engine.EnsureStartedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!Options.RunWorker)
        {
            return;
        }

        _claimLoop = Task.Run(() => ClaimLoopAsync(_stopping.Token), CancellationToken.None);
        _heartbeatLoop = Task.Run(() => HeartbeatLoopAsync(_stopping.Token), CancellationToken.None);
        LogWorkerStarted(Logger, engine.NodeId, Options.MaxConcurrentRuns);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _claimLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        var running = _running.Values.ToList();
        foreach (var (execution, _) in running)
        {
            execution.RequestHalt(HaltReason.Shutdown);
        }

        var all = Task.WhenAll(running.Select(r => r.Task));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.ShutdownTimeout);
        await all.WaitAsync(timeout.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!all.IsCompleted)
        {
            // Out of time: cancel step bodies still running. Their results are lost, so those steps run again on resume.
            LogShutdownTimeout(Logger, _running.Count);
            foreach (var (execution, _) in _running.Values)
            {
                execution.CancelNow();
            }

            await all.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _heartbeatLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task ClaimLoopAsync(CancellationToken stopping)
    {
        var functionIds = engine.Registry.Ids;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                // Armed before the claim, so work created while claiming is not missed.
                var signal = engine.WorkAvailable.WaitAsync();
                var free = Options.MaxConcurrentRuns - _running.Count;
                if (free > 0)
                {
                    var asked = Math.Min(free, Options.ClaimBatchSize);
                    var claimed = await engine.Storage.Queue.ClaimAsync(engine.NodeId, functionIds, asked, Options.LeaseDuration, stopping).ConfigureAwait(false);
                    foreach (var run in claimed)
                    {
                        Start(run);
                    }

                    if (claimed.Count == asked)
                    {
                        continue;
                    }
                }

                var delay = Options.PollInterval;
                if (free > 0 && await engine.Storage.Queue.NextDueAsync(stopping).ConfigureAwait(false) is { } next)
                {
                    var untilNext = next - engine.Time.GetUtcNow();
                    delay = untilNext < delay ? (untilNext > TimeSpan.Zero ? untilNext : TimeSpan.FromMilliseconds(1)) : delay;
                }

                using var wake = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                var timer = Task.Delay(delay, engine.Time, wake.Token);
                await Task.WhenAny(signal, timer).ConfigureAwait(false);
                await wake.CancelAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogClaimFailed(Logger, ex);
                await Task.Delay(Options.PollInterval, engine.Time, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private void Start(ClaimedRun run)
    {
        if (!engine.Registry.TryGet(run.FunctionId, out var function))
        {
            return;
        }

        var execution = new RunExecution(engine, run, function);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = Task.Run(async () =>
        {
            await started.Task.ConfigureAwait(false);
            try
            {
                await execution.ExecuteAsync().ConfigureAwait(false);
            }
            finally
            {
                _running.TryRemove(run.Lease.RunId, out _);
                engine.WorkAvailable.Set();
            }
        });
        _running[run.Lease.RunId] = (execution, task);
        started.SetResult();
    }

    private async Task HeartbeatLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(Options.HeartbeatInterval, engine.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                await RenewAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping: leases still held are renewed below until the last execution has released its run.
        }

        while (!_running.IsEmpty)
        {
            var wait = Task.WhenAll(_running.Values.Select(r => r.Task));
            await wait.WaitAsync(Options.HeartbeatInterval, engine.Time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!wait.IsCompleted)
            {
                await RenewAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task RenewAsync()
    {
        try
        {
            // Only runs claimed before the renewal was issued can be judged by its answer.
            var snapshot = _running.ToArray();
            var held = await engine.Storage.Queue.RenewAsync(engine.NodeId, Options.LeaseDuration, CancellationToken.None).ConfigureAwait(false);
            foreach (var (runId, (execution, task)) in snapshot)
            {
                if (!held.Contains(runId) && !task.IsCompleted)
                {
                    LogLeaseLost(Logger, runId);
                    execution.RequestHalt(HaltReason.Abort);
                }
            }
        }
        catch (Exception ex)
        {
            LogHeartbeatFailed(Logger, ex);
        }
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Baton worker {NodeId} started: up to {MaxConcurrentRuns} runs at once")]
    private static partial void LogWorkerStarted(ILogger logger, string nodeId, int maxConcurrentRuns);

    [LoggerMessage(EventId = 11, Level = LogLevel.Error, Message = "Claiming runs failed; retrying after the poll interval")]
    private static partial void LogClaimFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "Lease on run {RunId} was lost; abandoning its execution")]
    private static partial void LogLeaseLost(ILogger logger, string runId);

    [LoggerMessage(EventId = 13, Level = LogLevel.Error, Message = "Renewing leases failed; runs may be reclaimed by other workers if this persists")]
    private static partial void LogHeartbeatFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "Shutdown timeout reached with {Count} runs still executing; cancelling their steps")]
    private static partial void LogShutdownTimeout(ILogger logger, int count);
}

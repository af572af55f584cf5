using System.Collections.Concurrent;
using System.Diagnostics;
using Baton.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Baton.Engine;

/// <summary>
/// The worker of a node: claims due runs under leases, executes them in-process up to
/// <see cref="BatonOptions.MaxConcurrentRuns"/> at once, renews its leases, and on shutdown lets in-flight steps
/// finish before releasing what is left.
/// </summary>
internal sealed partial class BatonWorker(BatonEngine engine, IHostApplicationLifetime? lifetime = null) : IHostedService, IAsyncDisposable
{
    private CancellationTokenRegistration _onStopping;
    private IDisposable? _workSubscription;
    private readonly ConcurrentDictionary<string, (RunExecution Execution, Task Task)> _running = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _heartbeatStopping = new();
    private Task _claimLoop = Task.CompletedTask;
    private Task _heartbeatLoop = Task.CompletedTask;
    private Task _retentionLoop = Task.CompletedTask;
    private Task _deadlineLoop = Task.CompletedTask;
    private Task _scheduleLoop = Task.CompletedTask;

    private BatonOptions Options => engine.Options;

    private ILogger Logger => engine.Logger;

    /// <summary>Claims sent before the one before them came back (see <see cref="ClaimLoopAsync"/>).</summary>
    private const int MaxClaimsInFlight = 2;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await engine.EnsureStartedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!Options.RunWorker)
        {
            return;
        }

        NodeIds.MarkAlive(engine.NodeId);

        // Shutdown begins when the host starts stopping, before any hosted service is stopped.
        _onStopping = lifetime?.ApplicationStopping.Register(BeginShutdown) ?? default;
        await RecoverDeadLocalOwnersAsync().ConfigureAwait(false);
        _workSubscription = engine.Storage.Queue.SubscribeToWork(engine.WorkAvailable.Set, StopCancelledRun);
        engine.RunCancelled += StopCancelledRun;
        _claimLoop = Task.Run(() => ClaimLoopAsync(_stopping.Token), CancellationToken.None);
        _heartbeatLoop = Task.Run(() => HeartbeatLoopAsync(_stopping.Token), CancellationToken.None);
        _deadlineLoop = Task.Run(() => DeadlineLoopAsync(_stopping.Token), CancellationToken.None);
        _scheduleLoop = Task.Run(() => ScheduleLoopAsync(_stopping.Token), CancellationToken.None);

        if (Options.HistoryRetention is { } retention)
        {
            _retentionLoop = Task.Run(() => RetentionLoopAsync(retention, _stopping.Token), CancellationToken.None);
        }

        LogWorkerStarted(Logger, engine.NodeId, Options.MaxConcurrentRuns);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_heartbeatStopping.IsCancellationRequested)
        {
            return;
        }

        BeginShutdown();
        await _onStopping.DisposeAsync().ConfigureAwait(false);
        _workSubscription?.Dispose();
        engine.RunCancelled -= StopCancelledRun;
        await _claimLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _retentionLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _deadlineLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _scheduleLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        var running = _running.Values.ToList();
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

        // Bodies that ignore their token may still run; stop renewing their leases so other nodes can take over.
        await _heartbeatStopping.CancelAsync().ConfigureAwait(false);
        await _heartbeatLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        NodeIds.MarkGone(engine.NodeId);
    }

    /// <summary>A run cancelled through this process that this worker executes: its lease is gone; stop it now.</summary>
    private void StopCancelledRun(string runId)
    {
        if (_running.TryGetValue(runId, out var entry))
        {
            entry.Execution.LoseLease();
        }
    }

    /// <summary>Stops claiming and halts every execution: no new steps start; steps in flight finish.</summary>
    private void BeginShutdown()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        foreach (var (execution, _) in _running.Values)
        {
            execution.RequestHalt(HaltReason.Shutdown);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
        _heartbeatStopping.Dispose();
    }

    /// <summary>
    /// Frees the leases of earlier processes on this machine that are gone (a crash, a kill), so a restarted embedded
    /// app resumes their runs at once instead of after <see cref="BatonOptions.LeaseDuration"/>. Node ids name their
    /// host and process id; only owners on this host whose process no longer exists are freed.
    /// </summary>
    private async Task RecoverDeadLocalOwnersAsync()
    {
        try
        {
            foreach (var owner in await engine.Storage.Queue.LeaseOwnersAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (owner != engine.NodeId && NodeIds.IsDeadLocalProcess(owner))
                {
                    var freed = await engine.Storage.Queue.ExpireLeasesAsync(owner, CancellationToken.None).ConfigureAwait(false);
                    LogRecovered(Logger, freed, owner);
                }
            }
        }
        catch (Exception ex)
        {
            LogHeartbeatFailed(Logger, ex);
        }
    }

    /// <summary>
    /// Claims due runs into the free slots. A claim's round trip is most of its cost (a run of no-op steps on PostgreSQL
    /// ends before the claim that follows it comes back), so while claims come back full a second one is sent before
    /// the first returns, and a sliver of room waits up to one claim's time for more runs to end.
    /// </summary>
    private async Task ClaimLoopAsync(CancellationToken stopping)
    {
        var functionIds = engine.Registry.Ids;
        IReadOnlyCollection<string>? queues = Options.Queues is { } served ? [.. served] : null;
        var limits = engine.Registry.All
            .Where(f => f.ConcurrencyLimit is not null || f.KeyedConcurrency is not null)
            .ToDictionary(f => f.Id, f => new ConcurrencyRule(f.ConcurrencyLimit, f.KeyedConcurrency?.Limit), StringComparer.Ordinal);
        var sliver = Math.Max(1, Math.Min(Options.ClaimBatchSize, Options.MaxConcurrentRuns) / 4);
        var claims = new List<(Task<IReadOnlyList<ClaimedRun>> Task, int Asked, long SentAt, long SignalsBefore)>();
        var claimNow = true;
        var waits = new List<Task>(MaxClaimsInFlight + 2);

        // Work signalled (runs created or due, slots freed) is counted, so a claim that comes back short is followed
        // by another if work was signalled after it was sent: its snapshot may have missed that work.
        var signal = engine.WorkAvailable.WaitAsync();
        var signals = 0L;
        var moreDue = false;
        var lastClaim = TimeSpan.Zero;
        long? deferredSince = null;
        Task? deferral = null;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    if (signal.IsCompleted)
                    {
                        signals++;
                        signal = engine.WorkAvailable.WaitAsync();
                    }

                    for (var c = 0; c < claims.Count;)
                    {
                        var claim = claims[c];
                        if (!claim.Task.IsCompleted)
                        {
                            c++;
                            continue;
                        }

                        claims.RemoveAt(c);
                        lastClaim = TimeSpan.FromTicks(Math.Min(Stopwatch.GetElapsedTime(claim.SentAt).Ticks, Options.PollInterval.Ticks));
                        var claimed = await claim.Task.ConfigureAwait(false);
                        foreach (var run in claimed)
                        {
                            Start(run);
                        }

                        // Back short: nothing more was due; unless work was signalled since, the next claim waits for
                        // work or the next due time.
                        moreDue = claimed.Count == claim.Asked;
                        claimNow &= moreDue || signals > claim.SignalsBefore;
                    }

                    var free = Options.MaxConcurrentRuns - _running.Count - claims.Sum(c => c.Asked);
                    var send = claimNow && free > 0 && claims.Count < MaxClaimsInFlight && (claims.Count == 0 || moreDue);
                    if (!(send && moreDue && free < sliver))
                    {
                        (deferredSince, deferral) = (null, null);
                    }
                    else
                    {
                        // A sliver: with a claim out, wait for it; otherwise for runs to end, up to one claim's time.
                        deferredSince ??= Stopwatch.GetTimestamp();
                        var left = lastClaim - Stopwatch.GetElapsedTime(deferredSince.Value);
                        send = claims.Count == 0 && left <= TimeSpan.Zero;
                        deferral ??= claims.Count == 0 && !send ? Task.Delay(left, stopping) : null;
                    }

                    if (send)
                    {
                        (deferredSince, deferral) = (null, null);
                        var asked = Math.Min(free, Options.ClaimBatchSize);
                        claims.Add((engine.Storage.Queue.ClaimAsync(engine.NodeId, functionIds, asked, Options.LeaseDuration, limits, queues, stopping), asked, Stopwatch.GetTimestamp(), signals));
                        continue;
                    }

                    if (claims.Count > 0 || deferral is not null)
                    {
                        // A claim comes back, a run ends (room), or a sliver has waited long enough.
                        waits.Clear();
                        waits.Add(signal);
                        foreach (var claim in claims)
                        {
                            waits.Add(claim.Task);
                        }

                        if (deferral is not null)
                        {
                            waits.Add(deferral);
                        }

                        await Task.WhenAny(waits).ConfigureAwait(false);
                        continue;
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
                    claimNow = true;
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    LogClaimFailed(Logger, ex);
                    await Task.Delay(Options.PollInterval, engine.Time, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    claimNow = true;
                }
            }
        }
        finally
        {
            // Claims still out at shutdown: their runs are leased to this node; started now, each halts and is given back.
            foreach (var claim in claims)
            {
                try
                {
                    foreach (var run in await claim.Task.WaitAsync(Options.ShutdownTimeout).ConfigureAwait(false))
                    {
                        Start(run);
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A claim that failed leased nothing; one that did not answer in time leaves leases that expire, and
                    // the runs are claimed again.
                }
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
        var started = new TaskCompletionSource<(RunExecution, Task)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = Task.Run(async () =>
        {
            var entry = await started.Task.ConfigureAwait(false);
            try
            {
                await execution.ExecuteAsync().ConfigureAwait(false);
            }
            finally
            {
                // Remove only this execution's entry: the run may already have been claimed again by a newer one.
                _running.TryRemove(KeyValuePair.Create(run.Lease.RunId, entry));
                engine.WorkAvailable.Set();
            }
        });
        var entry = (execution, task);
        if (_running.TryGetValue(run.Lease.RunId, out var previous))
        {
            // The claim bumped the lease token, so an older execution of this run can no longer write; stop it.
            previous.Execution.LoseLease();
        }

        _running[run.Lease.RunId] = entry;
        if (_stopping.IsCancellationRequested)
        {
            // Claimed while shutdown began: start no step, give the run back.
            execution.RequestHalt(HaltReason.Shutdown);
        }

        started.SetResult(entry);
    }

    /// <summary>
    /// Fires the cron schedules of this node's functions when their slots come: each slot once over all nodes (the
    /// schedule's next slot moves with a compare-and-set, in the transaction that creates the run). Slots missed while
    /// every node was down are skipped, or the latest one caught up, as each schedule says. Schedules created through
    /// the client on another node are found within <see cref="BatonOptions.PollInterval"/>; on this node at once.
    /// </summary>
    private async Task ScheduleLoopAsync(CancellationToken stopping)
    {
        var functionIds = engine.Registry.Ids.ToList();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var now = engine.Time.GetUtcNow();
                foreach (var schedule in await engine.Storage.Schedules.DueAsync(functionIds, now, 100, stopping).ConfigureAwait(false))
                {
                    var (slot, nextAt) = CronPlan.Due(schedule, now);
                    var run = slot is { } fire ? engine.NewCronRun(schedule, fire, now) : null;
                    if (await engine.Storage.Schedules.FireAsync(schedule.Id, schedule.NextAt, nextAt, run, stopping).ConfigureAwait(false) && run is not null)
                    {
                        engine.WorkAvailable.Set();
                    }
                    else if (slot is null)
                    {
                        LogSlotsMissed(Logger, schedule.Id, schedule.NextAt, nextAt);
                    }
                }

                var delay = Options.PollInterval;
                if (await engine.Storage.Schedules.NextAsync(functionIds, stopping).ConfigureAwait(false) is { } next && next - engine.Time.GetUtcNow() < delay)
                {
                    delay = next > engine.Time.GetUtcNow() ? next - engine.Time.GetUtcNow() : TimeSpan.FromMilliseconds(1);
                }

                await Task.WhenAny(Task.Delay(delay, engine.Time, stopping), engine.SchedulesChanged.WaitAsync()).ConfigureAwait(false);
                stopping.ThrowIfCancellationRequested();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogScheduleFailed(Logger, ex);
                await Task.Delay(Options.PollInterval, engine.Time, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// Cancels, as timed out, the runs whose finish deadline (<see cref="FunctionTimeouts.Finish"/>) has passed, every
    /// <see cref="BatonOptions.PollInterval"/>. Every worker node does it; a run is cancelled once.
    /// </summary>
    private async Task DeadlineLoopAsync(CancellationToken stopping)
    {
        var reason = new RunError("Baton.FinishTimeout", "The run did not finish within its function's finish timeout (Timeouts.Finish).");
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Options.PollInterval, engine.Time, stopping).ConfigureAwait(false);
                foreach (var runId in await engine.Storage.Queue.OverdueAsync(engine.Time.GetUtcNow(), 100, stopping).ConfigureAwait(false))
                {
                    await engine.CancelAsync(runId, RunStatus.TimedOut, reason, stopping).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogDeadlineFailed(Logger, ex);
            }
        }
    }

    /// <summary>
    /// Deletes history older than <see cref="BatonOptions.HistoryRetention"/> in small batches, so the purge never holds
    /// the writer for long. Every worker node does it; concurrent purges only delete the same rows once.
    /// </summary>
    private async Task RetentionLoopAsync(TimeSpan retention, CancellationToken stopping)
    {
        const int BatchSize = 500;
        var every = TimeSpan.FromTicks(Math.Clamp(retention.Ticks / 24, TimeSpan.FromMinutes(1).Ticks, TimeSpan.FromHours(1).Ticks));
        using var timer = new PeriodicTimer(every, engine.Time);
        do
        {
            if (stopping.IsCancellationRequested)
            {
                return;
            }

            try
            {
                var cutoff = engine.Time.GetUtcNow() - retention;
                var total = 0;
                int deleted;
                do
                {
                    deleted = await engine.Storage.Runs.PurgeAsync(cutoff, BatchSize, stopping).ConfigureAwait(false);
                    total += deleted;
                }
                while (deleted > 0 && !stopping.IsCancellationRequested);

                if (total > 0)
                {
                    LogPurged(Logger, total, cutoff);
                }
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                LogPurgeFailed(Logger, ex);
            }
        }
        while (await NextTickAsync(timer, stopping).ConfigureAwait(false));
    }

    private static async Task<bool> NextTickAsync(PeriodicTimer timer, CancellationToken stopping)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
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

        while (!_running.IsEmpty && !_heartbeatStopping.IsCancellationRequested)
        {
            var wait = Task.WhenAll(_running.Values.Select(r => r.Task));
            await wait.WaitAsync(Options.HeartbeatInterval, engine.Time, _heartbeatStopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!wait.IsCompleted && !_heartbeatStopping.IsCancellationRequested)
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
            var leases = snapshot.Where(r => !r.Value.Task.IsCompleted).Select(r => r.Value.Execution.Lease).ToList();
            var held = await engine.Storage.Queue.RenewAsync(leases, Options.LeaseDuration, CancellationToken.None).ConfigureAwait(false);
            foreach (var (runId, (execution, task)) in snapshot)
            {
                if (!held.Contains(runId) && !task.IsCompleted)
                {
                    LogLeaseLost(Logger, runId);
                    execution.LoseLease();
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

    [LoggerMessage(EventId = 15, Level = LogLevel.Information, Message = "Freed {Count} runs leased by {Owner}, an earlier process on this machine that is gone")]
    private static partial void LogRecovered(ILogger logger, int count, string owner);

    [LoggerMessage(EventId = 16, Level = LogLevel.Information, Message = "Deleted {Count} runs and events that ended or arrived before {Cutoff:O}")]
    private static partial void LogPurged(ILogger logger, int count, DateTimeOffset cutoff);

    [LoggerMessage(EventId = 19, Level = LogLevel.Warning, Message = "Firing cron schedules failed; trying again later")]
    private static partial void LogScheduleFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Cron schedule {ScheduleId} skipped the slots from {Missed:O} (missed while no node ran); next slot {Next:O}")]
    private static partial void LogSlotsMissed(ILogger logger, string scheduleId, DateTimeOffset missed, DateTimeOffset next);

    [LoggerMessage(EventId = 18, Level = LogLevel.Warning, Message = "Cancelling runs past their finish timeout failed; trying again later")]
    private static partial void LogDeadlineFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 17, Level = LogLevel.Warning, Message = "Deleting old history failed; trying again later")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "Shutdown timeout reached with {Count} runs still executing; cancelling their steps")]
    private static partial void LogShutdownTimeout(ILogger logger, int count);
}

namespace Baton.Engine;

/// <summary>Halting: how an execution stops starting steps, waits for those in flight, and remembers when to wake.</summary>
internal sealed partial class RunExecution
{
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _haltedSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private HaltReason _halt;
    private DateTimeOffset? _wakeAt;
    private RunStatus _suspendStatus = RunStatus.Queued;
    private int _inFlight;
    private bool _concluded;
    private bool _leaseLost;
    private TaskCompletionSource? _drained;

    public HaltReason Halt => _halt;

    /// <summary>Stops new steps from starting. A wake-up time (for a suspension) is kept if it is the earliest.</summary>
    public void RequestHalt(HaltReason reason, DateTimeOffset? wakeAt = null, RunStatus status = RunStatus.Queued)
    {
        lock (_gate)
        {
            if (wakeAt is { } at)
            {
                _wakeAt = _wakeAt is { } existing && existing < at ? existing : at;

                // A run on a durable wait shows what it waits for; a run only backing off before a retry stays "queued".
                if (_suspendStatus == RunStatus.Queued)
                {
                    _suspendStatus = status;
                }
            }

            if (reason > _halt)
            {
                _halt = reason;
            }
        }

        _haltedSignal.TrySetResult();
        if (reason == HaltReason.Abort)
        {
            // Another execution owns the run now: stop user code as soon as it looks at its token.
            CancelNow();
        }
    }

    /// <summary>The lease is gone: abort, and write nothing more (not even a release).</summary>
    public void LoseLease()
    {
        _leaseLost = true;
        RequestHalt(HaltReason.Abort);
    }

    /// <summary>Cancels the run's token (a lost lease, or a graceful shutdown out of time). Never throws.</summary>
    public void CancelNow()
    {
        try
        {
            _cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The execution already ended.
        }
        catch (AggregateException ex)
        {
            // A callback the user registered on the token threw; that must not stop the engine.
            LogCancellationCallbackFailed(_engine.Logger, ex, RunId);
        }
    }

    private void Conclude()
    {
        lock (_gate)
        {
            _concluded = true;
        }
    }

    private bool TryBeginStep()
    {
        lock (_gate)
        {
            if (_halt != HaltReason.None || _concluded)
            {
                return false;
            }

            _inFlight++;
            return true;
        }
    }

    private void EndStep()
    {
        TaskCompletionSource? drained = null;
        lock (_gate)
        {
            if (--_inFlight == 0)
            {
                drained = _drained;
                _drained = null;
            }
        }

        drained?.TrySetResult();
    }

    private Task WaitForStepsAsync()
    {
        lock (_gate)
        {
            if (_inFlight == 0)
            {
                return Task.CompletedTask;
            }

            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task;
        }
    }

    /// <summary>A task that never completes: how a step call "suspends" without an exception user code could catch.</summary>
    private static Task<T> Never<T>() => new TaskCompletionSource<T>().Task;

    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 104, Level = Microsoft.Extensions.Logging.LogLevel.Warning, Message = "Run {RunId}: a callback registered on the run's cancellation token threw")]
    private static partial void LogCancellationCallbackFailed(Microsoft.Extensions.Logging.ILogger logger, Exception exception, string runId);
}

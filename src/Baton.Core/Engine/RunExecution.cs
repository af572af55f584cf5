using System.Text.Json;
using Baton.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Engine;

/// <summary>
/// One execution of a claimed run: loads the journal, calls the function with a context whose steps read and write
/// that journal, and records how the execution ended (completed, failed, suspended, released).
/// </summary>
internal sealed partial class RunExecution
{
    private readonly BatonEngine _engine;
    private readonly ClaimedRun _claim;
    private readonly FunctionDefinition _function;
    private readonly CancellationTokenSource _cancellation = new();
    private readonly CancellationToken _token;
    private Dictionary<string, StepRecord> _journal = new(StringComparer.Ordinal);
    private AsyncServiceScope _scope;
    private (string Id, string Name, DateTimeOffset Timestamp, JsonElement Data, JsonElement Event) _input;
    private IReadOnlyList<(string Id, string Name, DateTimeOffset Timestamp, JsonElement Data, JsonElement Event)> _events = [];
    private string _inputJson = "[]";

    public RunExecution(BatonEngine engine, ClaimedRun claim, FunctionDefinition function)
    {
        _engine = engine;
        _claim = claim;
        _function = function;
        _token = _cancellation.Token;
        var logger = engine.LoggerFactory.CreateLogger("Baton.Function." + function.Id);
        Logger = new ReplayAwareLogger(logger, () => IsReplaying);
    }

    public string RunId => _claim.Lease.RunId;

    public string FunctionId => _function.Id;

    public int Attempt => _claim.Attempt + 1;

    public RunLease Lease => _claim.Lease;

    public ILogger Logger { get; }

    public CancellationToken CancellationToken => _token;

    public IServiceProvider Services => _scope.ServiceProvider;

    public JsonSerializerOptions JsonOptions => _engine.Json;

    /// <summary>Executes the run to the end of this execution. Never throws.</summary>
    public async Task ExecuteAsync()
    {
        try
        {
            // A run's first claim (token 1) finds no journal: nothing has executed yet, so there is nothing to read.
            if (Lease.Token > 1)
            {
                var steps = _claim.Journal ?? await _engine.Storage.Runs.GetStepsAsync(RunId, CancellationToken.None).ConfigureAwait(false);
                _journal = steps.ToDictionary(s => s.Key, StringComparer.Ordinal);
            }

            _unvisited = _journal.Count;
            // Events with large data hold references in storage: their data is read back here, once per execution.
            _inputJson = await _engine.LargeValues.ExpandEventsAsync(_claim.InputJson, CancellationToken.None).ConfigureAwait(false);
            _events = EventJson.ReadAll(_inputJson);
            _input = _events[0];
            if (!await ApplyTimeoutsAsync().ConfigureAwait(false))
            {
                return;
            }

            _scope = _engine.Services.CreateAsyncScope();
            await using (_scope.ConfigureAwait(false))
            {
                Task<object?> body;
                try
                {
                    body = _function.Invoker.InvokeAsync(this);
                }
                catch (Exception ex)
                {
                    body = Task.FromException<object?>(ex);
                }

                await Task.WhenAny(body, _haltedSignal.Task).ConfigureAwait(false);

                // Steps still in flight (parallel branches, or bodies running when a halt came) finish and commit first;
                // after that no step may start, whatever stray user code still runs.
                await WaitForStepsAsync().ConfigureAwait(false);
                Conclude();
                await ConcludeAsync(body).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            // Storage failed while concluding: write nothing more; the lease expires and the run is claimed again.
            LogExecutionError(_engine.Logger, ex, RunId);
        }
        finally
        {
            CancelNow();
            _cancellation.Dispose();
        }
    }

    /// <summary>
    /// Ends a run that started too late (start timeout) and records the deadline of its finish timeout on its first
    /// execution. Returns false when the run must not execute.
    /// </summary>
    private async Task<bool> ApplyTimeoutsAsync()
    {
        var started = _claim.StartedAt ?? _engine.Time.GetUtcNow();
        if (_claim.StartBy is { } startBy && started > startBy)
        {
            await CompleteAsync(RunStatus.Expired, null, new RunError("Baton.Ttl",
                $"The run was not started before {startBy:O} (its TTL); a worker first took it at {started:O}."), _engine.Time.GetUtcNow()).ConfigureAwait(false);
            return false;
        }

        if (_function.StartTimeout is { } startTimeout && started - _claim.CreatedAt > startTimeout)
        {
            var waited = started - _claim.CreatedAt;
            await CompleteAsync(RunStatus.Expired, null, new RunError("Baton.StartTimeout",
                $"The run was not started within {startTimeout} of its creation (Timeouts.Start); it waited {waited}."), _engine.Time.GetUtcNow()).ConfigureAwait(false);
            return false;
        }

        if (_function.FinishTimeout is { } finish && _claim.FinishBy is null)
        {
            // The workers' deadline sweep cancels the run (status timed out) once this passes, wherever it is then.
            await _engine.Storage.Queue.SetFinishByAsync(Lease, started + finish, CancellationToken.None).ConfigureAwait(false);
        }

        return true;
    }

    private async Task ConcludeAsync(Task<object?> body)
    {
        var halt = _halt;
        if (halt == HaltReason.Abort)
        {
            LogAbandoned(_engine.Logger, RunId);
            if (!_leaseLost)
            {
                // Storage failed, not the lease: give the run back now rather than when the lease expires.
                try
                {
                    await _engine.Storage.Queue.ReleaseAsync(Lease, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    LogExecutionError(_engine.Logger, ex, RunId);
                }
            }

            return;
        }

        // Under a halt only a successful end counts: a fault may be the halt's own cancellation.
        if (body.IsCompletedSuccessfully || (body.IsCompleted && halt == HaltReason.None))
        {
            await FinishAsync(body).ConfigureAwait(false);
            return;
        }

        if (_wakeAt is { } wakeAt)
        {
            await _engine.Storage.Queue.SuspendAsync(Lease, new RunSuspension(wakeAt, _suspendStatus, _claim.Attempt), CancellationToken.None).ConfigureAwait(false);
        }
        else
        {
            await _engine.Storage.Queue.ReleaseAsync(Lease, CancellationToken.None).ConfigureAwait(false);
        }

        _engine.WorkAvailable.Set();
    }

    private async Task FinishAsync(Task<object?> body)
    {
        var now = _engine.Time.GetUtcNow();
        if (body.IsCompletedSuccessfully)
        {
            string output;
            try
            {
                output = JsonSerializer.Serialize(body.Result, body.Result?.GetType() ?? typeof(object), _engine.Json);
            }
            catch (Exception ex) when (ex is NotSupportedException or JsonException or InvalidOperationException)
            {
                await FailAsync(RunError.From(new NonRetriableException(
                    $"The function returned a value of type {body.Result!.GetType().FullName} that cannot be serialized to JSON: {ex.Message}", ex)), now).ConfigureAwait(false);
                return;
            }

            await CompleteAsync(RunStatus.Completed, output, null, now).ConfigureAwait(false);
            return;
        }

        var error = body.Exception?.InnerException ?? new OperationCanceledException("The function was cancelled.");
        // Baton's own exceptions (an invalid step call, an unknown function, bad input) are not fixed by retrying.
        var final = error is NonRetriableException or StepFailedException or BatonException || Attempt >= _function.Retry.MaxAttempts;
        if (final)
        {
            await FailAsync(RunError.From(error), now).ConfigureAwait(false);
            return;
        }

        var due = error is RetryAfterException retryAfter ? retryAfter.NextAttemptAt(now) : now + _function.Retry.Backoff.GetDelay(Attempt);
        LogFunctionRetry(Logger, error, RunId, Attempt, due);
        await _engine.Storage.Queue.SuspendAsync(Lease, new RunSuspension(due, RunStatus.Queued, _claim.Attempt + 1), CancellationToken.None).ConfigureAwait(false);
        _engine.WorkAvailable.Set();
    }

    private Task FailAsync(RunError error, DateTimeOffset now)
    {
        LogRunFailed(_engine.Logger, RunId, FunctionId, error.Type, error.Message);
        return CompleteAsync(RunStatus.Failed, null, error, now);
    }

    private async Task CompleteAsync(RunStatus status, string? output, RunError? error, DateTimeOffset now)
    {
        string? stored = null;
        if (output is not null)
        {
            try
            {
                // An invoked run's output is copied into its parent's journal: the parent owns it, so it lives as long
                // as the journal that reads it (a parent ends after the children it waits for).
                stored = await _engine.LargeValues.ShrinkAsync(ParentRunId ?? RunId, output, LargeValues.RunOutput, RunId).ConfigureAwait(false);
            }
            catch (PayloadTooLargeException tooLarge)
            {
                (status, output, error) = (RunStatus.Failed, null, RunError.From(tooLarge));
            }
        }

        // Lifecycle events carry an output that is stored inline; a large one stays out of events (read it from the run).
        var emitted = await _engine.LifecycleAppendsAsync(FunctionId, RunId, status, stored == output ? output : null, error, _input.Event, now).ConfigureAwait(false);
        await _engine.Storage.Queue.CompleteAsync(Lease, new RunCompletion(status, stored, error, now, emitted, MayHaveParent: ParentRunId is not null), CancellationToken.None).ConfigureAwait(false);
        if (emitted.Any(e => e.Runs.Count > 0))
        {
            _engine.WorkAvailable.Set();
        }

        _engine.Completions.Notify(RunId);
    }

    internal FunctionContext<TEvent> CreateContext<TEvent>()
    {
        EventEnvelope<TEvent> Envelope((string Id, string Name, DateTimeOffset Timestamp, JsonElement Data, JsonElement Whole) e)
        {
            TEvent payload;
            try
            {
                payload = typeof(TEvent) == typeof(JsonElement) ? (TEvent)(object)e.Data : e.Data.Deserialize<TEvent>(_engine.Json)!;
            }
            catch (JsonException ex)
            {
                throw new NonRetriableException($"The payload of event '{e.Name}' ({e.Id}) does not fit {typeof(TEvent).Name}: {ex.Message}", ex);
            }

            return new EventEnvelope<TEvent>(e.Id, e.Name, e.Timestamp, payload, e.Data);
        }

        // A batch run's input holds every event of the batch; any other run's holds its one event.
        var first = Envelope(_input);
        var events = _events.Count == 1 ? [first] : _events.Select(Envelope).ToArray();
        return new FunctionContext<TEvent>(this, _input.Event, first, events);
    }

    internal FailureContext CreateFailureContext()
    {
        var (_, _, _, data, whole) = _input;
        var failure = data.Deserialize<FunctionFinishedData>(_engine.Json)
            ?? throw new NonRetriableException("The failure event has no payload.");
        return new FailureContext(this, whole, failure);
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "Run {RunId}: storage failed while recording the end of an execution; the run will be claimed again when its lease expires")]
    private static partial void LogExecutionError(ILogger logger, Exception exception, string runId);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Run {RunId}: execution abandoned (lease lost or storage failed); another execution will continue it")]
    private static partial void LogAbandoned(ILogger logger, string runId);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Run {RunId}: attempt {Attempt} failed outside a step; retrying at {Due}")]
    private static partial void LogFunctionRetry(ILogger logger, Exception exception, string runId, int attempt, DateTimeOffset due);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Run {RunId} of {FunctionId} failed: {ErrorType}: {ErrorMessage}")]
    private static partial void LogRunFailed(ILogger logger, string runId, string functionId, string errorType, string errorMessage);
}

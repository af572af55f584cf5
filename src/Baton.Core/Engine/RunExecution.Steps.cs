using System.Text.Json;
using Baton.Storage;
using Microsoft.Extensions.Logging;

namespace Baton.Engine;

/// <summary>The step operations: key assignment, replay from the journal, bodies with retries, durable waits.</summary>
internal sealed partial class RunExecution
{
    // The key of the step body running on this async flow, to refuse nested steps.
    private static readonly AsyncLocal<string?> CurrentStep = new();

    // The longest delay a CancellationTokenSource timer takes.
    private static readonly TimeSpan MaxStepTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
    private readonly HashSet<string> _usedKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _occurrences = new(StringComparer.Ordinal);
    private int _unvisited;

    /// <summary>True until the function reaches a step its journal does not hold.</summary>
    public bool IsReplaying => Volatile.Read(ref _unvisited) > 0;

    public async Task<T> RunStepAsync<T>(string id, Func<StepExecution, Task<T>> body, StepOptions? options)
    {
        var (key, recorded) = ReserveKey(id, StepKind.Run);
        var attemptsSoFar = 0;
        DateTimeOffset? due = null;
        switch (recorded?.Status)
        {
            case StepStatus.Completed:
                // A large result is read now, when the replay reaches the step that returns it.
                return Deserialize<T>(await _engine.LargeValues.ExpandAsync(recorded.OutputJson, CancellationToken).ConfigureAwait(false), key);
            case StepStatus.Failed:
                throw new StepFailedException(key, recorded.Error!);
            case StepStatus.Retrying:
                attemptsSoFar = recorded.Attempts;
                due = recorded.WakeAt;
                break;
        }

        if (!TryBeginStep())
        {
            return await Never<T>().ConfigureAwait(false);
        }

        StepOutcome<T> outcome;
        try
        {
            var policy = new RetryPolicy(options?.Retries ?? _function.Retry.Retries, options?.Backoff ?? _function.Retry.Backoff);
            if (options?.Timeout is { } limit && (limit <= TimeSpan.Zero || limit > MaxStepTimeout))
            {
                throw new ArgumentOutOfRangeException(nameof(options), limit, $"Step '{key}': StepOptions.Timeout must be positive and at most {MaxStepTimeout}.");
            }

            outcome = await RunBodyAsync(key, body, policy, options?.Timeout, attemptsSoFar, recorded?.StartedAt, due).ConfigureAwait(false);
        }
        finally
        {
            EndStep();
        }

        if (outcome.Halted)
        {
            return await Never<T>().ConfigureAwait(false);
        }

        outcome.Exception?.Throw();
        return outcome.Value;
    }

    private async Task<StepOutcome<T>> RunBodyAsync<T>(string key, Func<StepExecution, Task<T>> body, RetryPolicy policy, TimeSpan? timeout, int attempt, DateTimeOffset? startedAt, DateTimeOffset? due)
    {
        var started = startedAt ?? _engine.Time.GetUtcNow();
        if (due is { } retryAt && !await WaitUntilAsync(retryAt, RunStatus.Queued).ConfigureAwait(false))
        {
            return StepOutcome<T>.Halt;
        }

        while (true)
        {
            attempt++;
            Exception? error = null;
            T value = default!;
            try
            {
                value = timeout is { } limit
                    ? await InvokeWithTimeoutAsync(key, body, attempt, limit).ConfigureAwait(false)
                    : await InvokeBodyAsync(key, body, attempt, CancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                error = ex;
            }

            if (_halt == HaltReason.Abort || (error is OperationCanceledException && CancellationToken.IsCancellationRequested))
            {
                // The run is being taken away; this attempt's outcome is not ours to record.
                return StepOutcome<T>.Halt;
            }

            string? output = null;
            if (error is null && !TrySerialize(value, key, out output, out error))
            {
                // Retrying cannot make a value serializable.
                attempt = Math.Max(attempt, policy.MaxAttempts);
            }

            if (error is null && output is not null)
            {
                try
                {
                    output = await _engine.LargeValues.ShrinkAsync(RunId, output, LargeValues.StepResult, key).ConfigureAwait(false);
                }
                catch (PayloadTooLargeException tooLarge)
                {
                    // Nor can it make a result smaller.
                    error = tooLarge;
                    attempt = Math.Max(attempt, policy.MaxAttempts);
                }
                catch (Exception ex)
                {
                    // Storage failed to keep the value: as a failed checkpoint, the execution stops and the step runs again later.
                    LogCheckpointFailed(_engine.Logger, ex, RunId, key);
                    RequestHalt(HaltReason.Abort);
                    return StepOutcome<T>.Halt;
                }
            }

            var now = _engine.Time.GetUtcNow();
            if (error is null)
            {
                var completed = new StepRecord(key, StepKind.Run, StepStatus.Completed, output, null, attempt, started, now, null);
                return await CheckpointAsync(completed).ConfigureAwait(false) ? StepOutcome<T>.Of(value) : StepOutcome<T>.Halt;
            }

            var runError = RunError.From(error);
            if (error is NonRetriableException || attempt >= policy.MaxAttempts)
            {
                var failed = new StepRecord(key, StepKind.Run, StepStatus.Failed, null, runError, attempt, started, now, null);
                return await CheckpointAsync(failed).ConfigureAwait(false)
                    ? StepOutcome<T>.Throw(new StepFailedException(key, runError))
                    : StepOutcome<T>.Halt;
            }

            var next = error is RetryAfterException retryAfter ? retryAfter.NextAttemptAt(now) : now + policy.Backoff.GetDelay(attempt);
            LogStepRetry(Logger, RunId, key, attempt, runError.Type, runError.Message, next);
            var retrying = new StepRecord(key, StepKind.Run, StepStatus.Retrying, null, runError, attempt, started, null, next);
            if (!await CheckpointAsync(retrying).ConfigureAwait(false) || !await WaitUntilAsync(next, RunStatus.Queued).ConfigureAwait(false))
            {
                return StepOutcome<T>.Halt;
            }
        }
    }

    /// <summary>
    /// Runs one attempt for at most <paramref name="timeout"/> (on the engine's clock): then the body's token fires and
    /// the attempt fails with <see cref="StepTimeoutException"/>, even if the body ignores its token.
    /// </summary>
    private async Task<T> InvokeWithTimeoutAsync<T>(string key, Func<StepExecution, Task<T>> body, int attempt, TimeSpan timeout)
    {
        using var expiry = new CancellationTokenSource(timeout, _engine.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(CancellationToken, expiry.Token);
        try
        {
            // Waiting on the linked token (not the timer's) cancels it, and so the body's token, before this returns.
            return await InvokeBodyAsync(key, body, attempt, linked.Token).WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (expiry.IsCancellationRequested && !CancellationToken.IsCancellationRequested)
        {
            throw new StepTimeoutException(key, timeout);
        }
    }

    private Task<T> InvokeBodyAsync<T>(string key, Func<StepExecution, Task<T>> body, int attempt, CancellationToken cancellationToken)
    {
        // Set on this flow only for the body: the value flows into the body's awaits, not back to the caller.
        CurrentStep.Value = key;
        try
        {
            return body(new StepExecution(RunId, key, attempt, cancellationToken));
        }
        finally
        {
            CurrentStep.Value = null;
        }
    }

    public async Task SleepAsync(string id, Func<DateTimeOffset, DateTimeOffset> dueFrom)
    {
        var (key, recorded) = ReserveKey(id, StepKind.Sleep);
        if (recorded?.Status == StepStatus.Completed || recorded is { Status: StepStatus.Waiting, WakeAt: { } passed } && passed <= _engine.Time.GetUtcNow())
        {
            // A persisted sleep whose due time has passed is over: that time says when it ended, so waking writes nothing.
            return;
        }

        if (!TryBeginStep())
        {
            await Never<bool>().ConfigureAwait(false);
        }

        bool done;
        try
        {
            var now = _engine.Time.GetUtcNow();
            var started = recorded?.StartedAt ?? now;

            // The due time is fixed when the run first reaches the sleep and persisted before waiting, so replays and
            // restarts wake at the same moment.
            var due = recorded?.WakeAt ?? dueFrom(now);
            if (recorded is null && due <= now)
            {
                // Already due (a zero sleep, a time in the past): recorded as completed, so a replay does not sleep again.
                done = await CheckpointAsync(new StepRecord(key, StepKind.Sleep, StepStatus.Completed, null, null, 0, started, now, due)).ConfigureAwait(false);
            }
            else
            {
                done = (recorded is not null
                        || await CheckpointAsync(new StepRecord(key, StepKind.Sleep, StepStatus.Waiting, null, null, 0, started, null, due)).ConfigureAwait(false))
                    && await WaitUntilAsync(due, RunStatus.Waiting).ConfigureAwait(false);
            }
        }
        finally
        {
            EndStep();
        }

        if (!done)
        {
            await Never<bool>().ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<string>> SendEventAsync(string id, IEnumerable<BatonEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var (key, recorded) = ReserveKey(id, StepKind.SendEvent);
        if (recorded?.Status == StepStatus.Completed)
        {
            return Deserialize<string[]>(recorded.OutputJson, key);
        }

        if (!TryBeginStep())
        {
            return await Never<IReadOnlyList<string>>().ConfigureAwait(false);
        }

        bool committed;
        SendResult sent;
        try
        {
            // Deterministic ids make a re-send after a crash a no-op: the events are accepted once.
            var list = events.Select((e, i) => e.Id is null ? e with { Id = $"{RunId}:{key}:{i}" } : e).ToList();
            sent = await _engine.SendAsync(list, CancellationToken.None).ConfigureAwait(false);
            var now = _engine.Time.GetUtcNow();
            var output = JsonSerializer.Serialize(sent.Ids, _engine.Json);
            committed = await CheckpointAsync(new StepRecord(key, StepKind.SendEvent, StepStatus.Completed, output, null, 1, now, now, null)).ConfigureAwait(false);
        }
        finally
        {
            EndStep();
        }

        return committed ? sent.Ids : await Never<IReadOnlyList<string>>().ConfigureAwait(false);
    }

    /// <summary>
    /// Assigns the step key for this call (the id, then <c>id:1</c>, <c>id:2</c>, ... for repeats) synchronously, in call
    /// order, so parallel steps get the same keys on every replay. Returns the journal entry for the key, if any.
    /// </summary>
    private (string Key, StepRecord? Recorded) ReserveKey(string id, StepKind kind)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new ArgumentException("A step id must not be empty.", nameof(id));
        }

        if (CurrentStep.Value is { } outer)
        {
            throw new InvalidOperationException(
                $"Step '{id}' was called inside the body of step '{outer}'. Steps cannot be nested: call them from the function body.");
        }

        string key;
        lock (_gate)
        {
            _occurrences.TryGetValue(id, out var occurrence);
            do
            {
                key = occurrence == 0 ? id : $"{id}:{occurrence}";
                occurrence++;
            }
            while (!_usedKeys.Add(key));
            _occurrences[id] = occurrence;
        }

        if (!_journal.TryGetValue(key, out var recorded))
        {
            Volatile.Write(ref _unvisited, 0);
            return (key, null);
        }

        Interlocked.Decrement(ref _unvisited);
        if (recorded.Kind != kind)
        {
            throw new NonDeterminismException(
                $"Step '{key}' is a {kind} step now, but the run's journal recorded it as a {recorded.Kind} step. " +
                "The function's code changed under a run in flight, or the order of its steps depends on something non-deterministic.");
        }

        return (key, recorded);
    }

    /// <summary>Waits until <paramref name="due"/>: in memory when short, else by suspending the run (returns false).</summary>
    private async Task<bool> WaitUntilAsync(DateTimeOffset due, RunStatus statusWhileSuspended)
    {
        var delay = due - _engine.Time.GetUtcNow();
        if (delay <= TimeSpan.Zero)
        {
            return true;
        }

        if (delay <= _engine.Options.HotWaitLimit && _halt == HaltReason.None)
        {
            var timer = Task.Delay(delay, _engine.Time);
            await Task.WhenAny(timer, _haltedSignal.Task).ConfigureAwait(false);
            if (timer.IsCompleted)
            {
                return true;
            }
        }

        RequestHalt(HaltReason.Suspend, due, statusWhileSuspended);
        return false;
    }

    private async Task<bool> CheckpointAsync(StepRecord record)
    {
        try
        {
            await _engine.Storage.Queue.CheckpointAsync(Lease, record, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (LeaseLostException)
        {
            LoseLease();
            return false;
        }
        catch (Exception ex)
        {
            LogCheckpointFailed(_engine.Logger, ex, RunId, record.Key);
            RequestHalt(HaltReason.Abort);
            return false;
        }
    }

    private bool TrySerialize<T>(T value, string key, out string? json, out Exception? error)
    {
        error = null;
        json = null;
        if (typeof(T) == typeof(Unit))
        {
            json = "null";
            return true;
        }

        try
        {
            json = JsonSerializer.Serialize(value, _engine.Json);
            return true;
        }
        catch (Exception ex) when (ex is NotSupportedException or JsonException or InvalidOperationException)
        {
            error = new NonRetriableException(
                $"Step '{key}' returned a value of type {value?.GetType().FullName ?? typeof(T).FullName} that cannot be serialized to JSON: {ex.Message}. " +
                "Return a JSON-serializable value (a record or DTO) from the step.", ex);
            return false;
        }
    }

    private T Deserialize<T>(string? json, string key)
    {
        if (typeof(T) == typeof(Unit) || json is null)
        {
            return default!;
        }

        try
        {
            return JsonSerializer.Deserialize<T>(json, _engine.Json)!;
        }
        catch (JsonException ex)
        {
            throw new NonDeterminismException($"Step '{key}' has a committed result that does not deserialize to {typeof(T).Name}: {ex.Message}");
        }
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "Run {RunId}: step {StepKey} attempt {Attempt} failed with {ErrorType}: {ErrorMessage}; retrying at {Due:O}")]
    private static partial void LogStepRetry(ILogger logger, string runId, string stepKey, int attempt, string errorType, string errorMessage, DateTimeOffset due);

    [LoggerMessage(EventId = 111, Level = LogLevel.Error, Message = "Run {RunId}: could not checkpoint step {StepKey}; abandoning this execution")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception, string runId, string stepKey);
}

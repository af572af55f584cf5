using System.Text.Json;
using Baton.Expressions;
using Baton.Storage;

namespace Baton.Engine;

/// <summary>
/// Durable waits on other things than time: events and child runs. The wait is written first (with its timeout); the run
/// then suspends, and whatever resolves the wait (a matching event, the last child's end) records the outcome in the
/// journal and wakes the run, which replays to this step and returns that outcome. A timeout is recorded only if the wait
/// is still open, so exactly one outcome exists, on every replay.
/// </summary>
internal sealed partial class RunExecution
{
    public async Task<EventEnvelope<T>?> WaitForEventAsync<T>(string id, string eventName, TimeSpan timeout, string? match, string? condition, TimeSpan? lookback)
    {
        ValidateWait(id, eventName, timeout, match, condition, lookback);
        var (key, recorded) = ReserveKey(id, StepKind.WaitForEvent);
        if (recorded?.Status == StepStatus.Completed)
        {
            return await ToEnvelopeAsync<T>(recorded.OutputJson, key).ConfigureAwait(false);
        }

        if (!TryBeginStep())
        {
            return await Never<EventEnvelope<T>?>().ConfigureAwait(false);
        }

        StepRecord? current = recorded;
        try
        {
            if (current is null)
            {
                var now = _engine.Time.GetUtcNow();
                var waiting = new StepRecord(key, StepKind.WaitForEvent, StepStatus.Waiting, null, null, 0, now, null, Deadline(now, timeout));
                var wait = new EventWait(eventName, match, condition, _inputJson, lookback is { } back ? now - back : null);
                current = await WriteAsync(key, () => _engine.Storage.Queue.WaitForEventAsync(Lease, waiting, wait, CancellationToken.None)).ConfigureAwait(false);
            }

            current = await ExpireIfDueAsync(current, s => s with { Status = StepStatus.Completed, OutputJson = null }).ConfigureAwait(false);
        }
        finally
        {
            EndStep();
        }

        return current?.Status == StepStatus.Completed
            ? await ToEnvelopeAsync<T>(current.OutputJson, key).ConfigureAwait(false)
            : await SuspendOnAsync<EventEnvelope<T>?>(current, RunStatus.WaitingForEvent).ConfigureAwait(false);
    }

    public async Task<T> InvokeAsync<T>(string id, string functionId, object? payload, TimeSpan? timeout)
    {
        if (timeout is { } t && t <= TimeSpan.Zero)
        {
            throw new InvalidStepException($"Step '{id}': the invoke timeout must be positive (or null for none); it is {t}.");
        }

        var (key, recorded) = ReserveKey(id, StepKind.Invoke);
        if (await ChildOutcomeAsync<T>(recorded, key).ConfigureAwait(false) is { } done)
        {
            return done.Value;
        }

        if (!TryBeginStep())
        {
            return await Never<T>().ConfigureAwait(false);
        }

        StepRecord? current = recorded;
        try
        {
            if (current is null)
            {
                await _engine.EnsureFunctionExistsAsync(functionId, CancellationToken.None).ConfigureAwait(false);
                var now = _engine.Time.GetUtcNow();
                // A child is never deduplicated: its parent waits for it.
                var child = _engine.NewRunFor(functionId, payload, now, new RunParent(RunId, key, 0)) with { IdempotencyKey = null, SingletonKey = null };
                var waiting = new StepRecord(key, StepKind.Invoke, StepStatus.Waiting, null, null, 0, now, null, timeout is { } limit ? Deadline(now, limit) : null);
                current = await WriteAsync(key, async () =>
                {
                    child = await _engine.LargeValues.StoreInputAsync(child, CancellationToken.None).ConfigureAwait(false);
                    await _engine.Storage.Queue.StartChildrenAsync(Lease, waiting, WaitKind.Invoke, [child], CancellationToken.None).ConfigureAwait(false);
                    return waiting;
                }).ConfigureAwait(false);
                _engine.WorkAvailable.Set();
            }

            current = await ExpireIfDueAsync(current, s => s with
            {
                Status = StepStatus.Failed,
                Error = new RunError(typeof(TimeoutException).FullName!, $"The invoked function '{functionId}' did not finish within {timeout}; the child run goes on."),
            }).ConfigureAwait(false);
        }
        finally
        {
            EndStep();
        }

        return await ChildOutcomeAsync<T>(current, key).ConfigureAwait(false) is { } outcome
            ? outcome.Value
            : await SuspendOnAsync<T>(current, RunStatus.WaitingForChildren).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<BatchItemResult<T>>> BatchInvokeAsync<T>(string id, string functionId, IReadOnlyList<object?> payloads)
    {
        if (payloads.Count == 0 || payloads.Count > _engine.Options.MaxBatchSize)
        {
            throw new InvalidStepException(
                $"Step '{id}': a batch needs 1 to {_engine.Options.MaxBatchSize} items (BatonOptions.MaxBatchSize); it has {payloads.Count}.");
        }

        var (key, recorded) = ReserveKey(id, StepKind.BatchInvoke);
        if (recorded is { Status: StepStatus.Completed, OutputJson: { } results })
        {
            return ReadBatch<T>((await _engine.LargeValues.ExpandAsync(results, CancellationToken).ConfigureAwait(false))!, key);
        }

        if (!TryBeginStep())
        {
            return await Never<IReadOnlyList<BatchItemResult<T>>>().ConfigureAwait(false);
        }

        StepRecord? current = recorded;
        try
        {
            if (current is null)
            {
                await _engine.EnsureFunctionExistsAsync(functionId, CancellationToken.None).ConfigureAwait(false);
                var now = _engine.Time.GetUtcNow();
                var children = payloads.Select((p, i) => _engine.NewRunFor(functionId, p, now, new RunParent(RunId, key, i)) with { IdempotencyKey = null, SingletonKey = null }).ToList();
                var waiting = new StepRecord(key, StepKind.BatchInvoke, StepStatus.Waiting, null, null, 0, now, null, null);
                current = await WriteAsync(key, async () =>
                {
                    var stored = await Task.WhenAll(children.Select(c => _engine.LargeValues.StoreInputAsync(c, CancellationToken.None))).ConfigureAwait(false);
                    await _engine.Storage.Queue.StartChildrenAsync(Lease, waiting, WaitKind.BatchInvoke, stored, CancellationToken.None).ConfigureAwait(false);
                    return waiting;
                }).ConfigureAwait(false);
                _engine.WorkAvailable.Set();
            }
            else if (current.Status == StepStatus.Completed)
            {
                // The last child resolved the wait; the results are gathered once, here, and kept in the journal.
                current = await GatherBatchAsync(current, key).ConfigureAwait(false);
            }
        }
        finally
        {
            EndStep();
        }

        return current switch
        {
            { Status: StepStatus.Completed, OutputJson: { } output } => ReadBatch<T>(output, key),
            { Status: StepStatus.Failed } => throw new StepFailedException(key, current.Error!),
            _ => await SuspendOnAsync<IReadOnlyList<BatchItemResult<T>>>(current, RunStatus.WaitingForChildren).ConfigureAwait(false),
        };
    }

    /// <summary>
    /// Reads every child's outcome once the last one ended and keeps them in the journal (out of line when large).
    /// Returns the completed step with the results in memory, the step failed when they are over the size limit, or
    /// null when a write failed (the execution is halting).
    /// </summary>
    private async Task<StepRecord?> GatherBatchAsync(StepRecord resolved, string key)
    {
        try
        {
            var children = await _engine.Storage.Runs.GetChildrenAsync(RunId, key, CancellationToken.None).ConfigureAwait(false);
            var gathered = await WriteBatchAsync(children).ConfigureAwait(false);
            string stored;
            try
            {
                stored = await _engine.LargeValues.ShrinkAsync(RunId, gathered, LargeValues.StepResults, key).ConfigureAwait(false);
            }
            catch (PayloadTooLargeException tooLarge)
            {
                var failed = resolved with { Status = StepStatus.Failed, OutputJson = null, Error = RunError.From(tooLarge) };
                return await CheckpointAsync(failed).ConfigureAwait(false) ? failed : null;
            }

            return await CheckpointAsync(resolved with { OutputJson = stored }).ConfigureAwait(false) ? resolved with { OutputJson = gathered } : null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogCheckpointFailed(_engine.Logger, ex, RunId, key);
            RequestHalt(HaltReason.Abort);
            return null;
        }
    }

    private static void ValidateWait(string id, string eventName, TimeSpan timeout, string? match, string? condition, TimeSpan? lookback)
    {
        if (!FunctionRegistry.IsValidEventName(eventName))
        {
            throw new InvalidStepException($"Step '{id}': '{eventName}' is not a valid event name to wait for (1-256 characters, no control characters or surrounding spaces).");
        }

        if (timeout <= TimeSpan.Zero)
        {
            throw new InvalidStepException($"Step '{id}': the wait timeout must be positive; it is {timeout}.");
        }

        if (match is not null && !WaitMatching.IsValidMatchPath(match))
        {
            throw new InvalidStepException(
                $"Step '{id}': match '{match}' is not a match path. Give 'data.' followed by field names separated by dots, such as 'data.docId'; for anything else use an 'if' expression.");
        }

        if (condition is not null)
        {
            CelExpression.Compile(condition, $"Step '{id}' (if)");
        }

        if (lookback is { } back && back < TimeSpan.Zero)
        {
            throw new InvalidStepException($"Step '{id}': the look-back must not be negative; it is {back}.");
        }
    }

    /// <summary>A wait whose timeout has passed is ended with <paramref name="timedOut"/>, unless it was resolved first.</summary>
    private async Task<StepRecord?> ExpireIfDueAsync(StepRecord? current, Func<StepRecord, StepRecord> timedOut)
    {
        var now = _engine.Time.GetUtcNow();
        if (current is not { Status: StepStatus.Waiting, WakeAt: { } due } || due > now)
        {
            return current;
        }

        var expired = timedOut(current) with { EndedAt = now };
        return await WriteAsync(current.Key, () => _engine.Storage.Queue.ExpireWaitAsync(Lease, expired, CancellationToken.None)).ConfigureAwait(false);
    }

    /// <summary>Suspends the run on an open wait (null: a write failed and the execution is already halting).</summary>
    private Task<T> SuspendOnAsync<T>(StepRecord? waiting, RunStatus status)
    {
        if (waiting is not null)
        {
            RequestHalt(HaltReason.Suspend, waiting.WakeAt ?? DateTimeOffset.MaxValue, status);
        }

        return Never<T>();
    }

    /// <remarks>A child's large output is read now, when the parent uses it.</remarks>
    private async Task<(T Value, bool Done)?> ChildOutcomeAsync<T>(StepRecord? recorded, string key) => recorded?.Status switch
    {
        StepStatus.Completed => (Deserialize<T>(await _engine.LargeValues.ExpandAsync(recorded.OutputJson, CancellationToken).ConfigureAwait(false), key), true),
        StepStatus.Failed => throw new StepFailedException(key, recorded.Error!),
        _ => null,
    };

    private async Task<StepRecord?> WriteAsync(string key, Func<Task<StepRecord>> write)
    {
        try
        {
            return await write().ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            LoseLease();
            return null;
        }
        catch (Exception ex)
        {
            LogCheckpointFailed(_engine.Logger, ex, RunId, key);
            RequestHalt(HaltReason.Abort);
            return null;
        }
    }

    private static DateTimeOffset Deadline(DateTimeOffset now, TimeSpan timeout) =>
        timeout >= DateTimeOffset.MaxValue - now ? DateTimeOffset.MaxValue : now + timeout;

    private async Task<EventEnvelope<T>?> ToEnvelopeAsync<T>(string? json, string key)
    {
        if (json is null)
        {
            return null;
        }

        // An event with large data is recorded with a reference to a copy the run owns, read back when the wait returns.
        json = await _engine.LargeValues.ExpandEventsAsync(json, CancellationToken).ConfigureAwait(false);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var data = root.GetProperty("data").Clone();
        T payload;
        try
        {
            payload = typeof(T) == typeof(JsonElement) ? (T)(object)data : data.Deserialize<T>(_engine.Json)!;
        }
        catch (JsonException ex)
        {
            throw new NonRetriableException($"Step '{key}': the event it received does not fit {typeof(T).Name}: {ex.Message}", ex);
        }

        return new EventEnvelope<T>(
            root.GetProperty("id").GetString()!,
            root.GetProperty("name").GetString()!,
            DateTimeOffset.FromUnixTimeMilliseconds(root.GetProperty("ts").GetInt64()),
            payload,
            data);
    }

    private async Task<string> WriteBatchAsync(IReadOnlyList<ChildResult> children)
    {
        var outputs = new string?[children.Count];
        for (var i = 0; i < children.Count; i++)
        {
            outputs[i] = await _engine.LargeValues.ExpandAsync(children[i].OutputJson, CancellationToken.None).ConfigureAwait(false);
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var (child, output) in children.Zip(outputs))
            {
                writer.WriteStartObject();
                writer.WriteNumber("index", child.Index);
                writer.WriteString("runId", child.RunId);
                writer.WriteString("status", child.Status.ToWireName());
                writer.WritePropertyName("output");
                writer.WriteRawValue(output ?? "null", skipInputValidation: true);
                writer.WritePropertyName("error");
                JsonSerializer.Serialize(writer, child.Error, _engine.Json);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private List<BatchItemResult<T>> ReadBatch<T>(string json, string key)
    {
        using var document = JsonDocument.Parse(json);
        var results = new List<BatchItemResult<T>>();
        foreach (var item in document.RootElement.EnumerateArray())
        {
            var status = RunStatusExtensions.FromWireName(item.GetProperty("status").GetString()!);
            var output = item.GetProperty("output");
            T? value = default;
            if (status == RunStatus.Completed && output.ValueKind != JsonValueKind.Null)
            {
                try
                {
                    value = typeof(T) == typeof(JsonElement) ? (T)(object)output.Clone() : output.Deserialize<T>(_engine.Json);
                }
                catch (JsonException ex)
                {
                    throw new NonDeterminismException($"Step '{key}': a child's output does not deserialize to {typeof(T).Name}: {ex.Message}");
                }
            }

            results.Add(new BatchItemResult<T>
            {
                Index = item.GetProperty("index").GetInt32(),
                RunId = item.GetProperty("runId").GetString()!,
                Status = status,
                Output = value,
                Error = item.GetProperty("error").Deserialize<RunError>(_engine.Json),
            });
        }

        return results;
    }
}

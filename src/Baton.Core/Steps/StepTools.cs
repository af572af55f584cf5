using Baton.Engine;

namespace Baton;

/// <summary>
/// Durable steps. Each call is identified by its id (repeats get <c>id:1</c>, <c>id:2</c>, ... in call order); its
/// outcome is written to the run's journal and, on a later execution of the same run, returned from there.
/// </summary>
/// <remarks>
/// Steps may run in parallel (<c>await Task.WhenAll(step.Run("a", ...), step.Run("b", ...))</c>); each is
/// checkpointed on its own. A step that must wait long (a sleep, a retry backoff) suspends the run: the awaiting call
/// simply never returns in this execution, which no <c>try/catch</c> can intercept, and the run resumes by replay when
/// the wait is over.
/// </remarks>
public sealed class StepTools
{
    private readonly RunExecution _execution;

    internal StepTools(RunExecution execution) => _execution = execution;

    /// <summary>Runs <paramref name="body"/> once and memoizes its result; on replay returns the committed result.</summary>
    /// <remarks>The result is committed to the journal before this call returns. A crash before the commit runs the body again.</remarks>
    /// <exception cref="StepFailedException">The body failed for good (after its retries, or non-retriably).</exception>
    public Task<T> Run<T>(string id, Func<StepExecution, Task<T>> body, StepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _execution.RunStepAsync(id, body, options);
    }

    /// <inheritdoc cref="Run{T}(string, Func{StepExecution, Task{T}}, StepOptions?)"/>
    public Task<T> Run<T>(string id, Func<Task<T>> body, StepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _execution.RunStepAsync(id, _ => body(), options);
    }

    /// <inheritdoc cref="Run{T}(string, Func{StepExecution, Task{T}}, StepOptions?)"/>
    public Task<T> Run<T>(string id, Func<T> body, StepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _execution.RunStepAsync(id, _ => Task.FromResult(body()), options);
    }

    /// <summary>Runs a step with no result once; on replay it is skipped.</summary>
    /// <exception cref="StepFailedException">The body failed for good.</exception>
    public Task Run(string id, Func<StepExecution, Task> body, StepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _execution.RunStepAsync<Unit>(id, async s =>
        {
            await body(s).ConfigureAwait(false);
            return default;
        }, options);
    }

    /// <inheritdoc cref="Run(string, Func{StepExecution, Task}, StepOptions?)"/>
    public Task Run(string id, Func<Task> body, StepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Run(id, _ => body(), options);
    }

    /// <inheritdoc cref="Run(string, Func{StepExecution, Task}, StepOptions?)"/>
    public Task Run(string id, Action body, StepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Run(id, _ =>
        {
            body();
            return Task.CompletedTask;
        }, options);
    }

    /// <summary>Sleeps durably for <paramref name="duration"/>, measured from the first time the run reached this step.</summary>
    /// <remarks>A long sleep suspends the run: it holds no worker slot and no memory, and wakes on time after a restart.</remarks>
    public Task Sleep(string id, TimeSpan duration) => _execution.SleepAsync(id, now => now + duration);

    /// <summary>Sleeps durably until <paramref name="until"/>.</summary>
    public Task SleepUntil(string id, DateTimeOffset until) => _execution.SleepAsync(id, _ => until);

    /// <summary>Sends events once (memoized). Events without an id get a deterministic one, so a retry does not send twice.</summary>
    /// <returns>The ids of the events sent.</returns>
    public Task<IReadOnlyList<string>> SendEvent(string id, params BatonEvent[] events) =>
        _execution.SendEventAsync(id, events);

    /// <inheritdoc cref="SendEvent(string, BatonEvent[])"/>
    public Task<IReadOnlyList<string>> SendEvent(string id, IEnumerable<BatonEvent> events) =>
        _execution.SendEventAsync(id, events);

    /// <summary>
    /// Waits durably for an event named <paramref name="eventName"/> and returns it, or null when
    /// <paramref name="timeout"/> passes first. The run suspends meanwhile: it holds no worker slot and no memory.
    /// </summary>
    /// <param name="id">The step id.</param>
    /// <param name="eventName">The event to wait for.</param>
    /// <param name="timeout">How long to wait, from the first time the run reaches this step.</param>
    /// <param name="match">
    /// A path such as <c>data.docId</c>: the incoming event's value there must equal the triggering event's. This is the
    /// indexed path: an incoming event finds its waiters without looking at the others.
    /// </param>
    /// <param name="if">
    /// A CEL expression over <c>event</c> (the triggering event) and <c>async</c> (the incoming one), such as
    /// <c>async.data.amount &gt; event.data.limit</c>. A missing field makes it false.
    /// </param>
    /// <param name="lookback">Also accept a matching event received up to this long <em>before</em> the wait started.</param>
    /// <remarks>Exactly one outcome is recorded: when the event and the timeout race, the function sees the one recorded, also on replay.</remarks>
    /// <exception cref="InvalidStepException">The event name, timeout or match path is invalid.</exception>
    /// <exception cref="BatonExpressionException">The <paramref name="if"/> expression is invalid (with the position of the error).</exception>
    public Task<EventEnvelope<T>?> WaitForEvent<T>(string id, string eventName, TimeSpan timeout, string? match = null, string? @if = null, TimeSpan? lookback = null) =>
        _execution.WaitForEventAsync<T>(id, eventName, timeout, match, @if, lookback);

    /// <summary>
    /// Starts a run of <paramref name="functionId"/> with <paramref name="payload"/> and waits durably for its output.
    /// The child's failure is thrown here as a <see cref="StepFailedException"/> (catchable); so is a timeout.
    /// </summary>
    /// <param name="id">The step id.</param>
    /// <param name="functionId">The function to run, registered on any node.</param>
    /// <param name="payload">Its input (<c>ctx.Event.Data</c>).</param>
    /// <param name="timeout">How long to wait; null waits as long as the child takes. The child is not cancelled by a timeout.</param>
    /// <exception cref="UnknownFunctionException">No function has that id.</exception>
    public Task<T> Invoke<T>(string id, string functionId, object? payload = null, TimeSpan? timeout = null) =>
        _execution.InvokeAsync<T>(id, functionId, payload, timeout);

    /// <summary>
    /// Starts one run of <paramref name="functionId"/> per payload (up to <see cref="BatonOptions.MaxBatchSize"/>) and
    /// waits durably until all have ended. Returns each item's output or error, in input order. The children run in
    /// parallel, subject to their function's limits; cancelling this run cancels those still going.
    /// </summary>
    /// <exception cref="InvalidStepException">No payloads, or more than the configured maximum.</exception>
    /// <exception cref="UnknownFunctionException">No function has that id.</exception>
    public Task<IReadOnlyList<BatchItemResult<T>>> BatchInvoke<T>(string id, string functionId, IEnumerable<object?> payloads)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        return _execution.BatchInvokeAsync<T>(id, functionId, [.. payloads]);
    }
}

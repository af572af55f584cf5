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
}

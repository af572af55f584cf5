using System.Text.Json;

namespace Baton;

/// <summary>Sends events, triggers functions and reads runs.</summary>
/// <remarks>
/// Every call that writes returns only after its write is durable in storage: an accepted event is never lost, and
/// its runs exist when the call returns.
/// </remarks>
public interface IBatonClient
{
    /// <summary>Sends one event. Returns its id and the runs it started.</summary>
    /// <exception cref="InvalidEventException">The event has no name, a reserved name, or cannot be serialized.</exception>
    /// <exception cref="PayloadTooLargeException">The serialized event is larger than <see cref="BatonOptions.MaxEventBytes"/>.</exception>
    Task<SendResult> SendAsync(BatonEvent @event, CancellationToken cancellationToken = default);

    /// <summary>Sends several events atomically: all are accepted or none.</summary>
    /// <exception cref="InvalidEventException">An event has no name, a reserved name, or cannot be serialized.</exception>
    /// <exception cref="PayloadTooLargeException">A serialized event is larger than <see cref="BatonOptions.MaxEventBytes"/>.</exception>
    Task<SendResult> SendAsync(IEnumerable<BatonEvent> events, CancellationToken cancellationToken = default);

    /// <summary>Starts a run of a function by id with the given payload, whatever its triggers. Returns the run id.</summary>
    /// <exception cref="UnknownFunctionException">No function has that id.</exception>
    Task<string> TriggerAsync(string functionId, object? payload = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts a run of a function by id with options: an idempotency key (a repeated key returns the first run's id and
    /// starts nothing), a delay. Returns the run id.
    /// </summary>
    /// <exception cref="UnknownFunctionException">No function has that id.</exception>
    Task<string> TriggerAsync(string functionId, object? payload, TriggerOptions options, CancellationToken cancellationToken = default);

    /// <summary>Pauses a queue (worker pool): its runs stay queued, on every node, until it is resumed.</summary>
    Task PauseQueueAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>Resumes a paused queue.</summary>
    Task ResumeQueueAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>Reads a run with its steps, or null when there is no such run.</summary>
    Task<RunInfo?> GetRunAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// A step's whole result, also when it is stored out of line (<see cref="StepInfo.OutputBytes"/>), or null when the
    /// step has no result.
    /// </summary>
    /// <exception cref="KeyNotFoundException">There is no such run, or it has no step with that id.</exception>
    Task<JsonElement?> GetStepOutputAsync(string runId, string stepId, CancellationToken cancellationToken = default);

    /// <summary>Waits until a run has ended and returns it.</summary>
    /// <exception cref="TimeoutException">The run did not end within <paramref name="timeout"/>.</exception>
    /// <exception cref="KeyNotFoundException">There is no such run.</exception>
    Task<RunInfo> WaitForRunAsync(string runId, TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Starts a run of a function and waits for its output.</summary>
    /// <exception cref="RunFailedException">The run ended without completing (its error is in the exception).</exception>
    /// <exception cref="TimeoutException">The run did not end within <paramref name="timeout"/> (it goes on).</exception>
    /// <exception cref="UnknownFunctionException">No function has that id.</exception>
    Task<T?> TriggerAndWaitAsync<T>(string functionId, object? payload, TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Starts one run per payload, atomically (all or none). Returns the run ids in payload order.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No payloads, or more than <see cref="BatonOptions.MaxBatchSize"/>.</exception>
    /// <exception cref="UnknownFunctionException">No function has that id.</exception>
    Task<IReadOnlyList<string>> BatchTriggerAsync(string functionId, IEnumerable<object?> payloads, CancellationToken cancellationToken = default);

    /// <summary>
    /// Cancels a run that has not ended, wherever it is (queued, waiting, running), and its unfinished child runs. A running
    /// execution sees its <see cref="FunctionContext.CancellationToken"/> cancelled. The reason is recorded as the run's
    /// error. Returns false when the run had already ended.
    /// </summary>
    /// <exception cref="KeyNotFoundException">There is no such run.</exception>
    Task<bool> CancelAsync(string runId, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Starts a new run of the same function with the same input. Returns the new run's id.</summary>
    /// <exception cref="KeyNotFoundException">There is no such run.</exception>
    Task<string> ReplayAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts a new run of the same function with the same input whose journal holds the completed steps recorded before
    /// <paramref name="stepId"/>: those return their results without running, and the run executes again from that step.
    /// </summary>
    /// <exception cref="KeyNotFoundException">There is no such run, or its journal has no step with that id.</exception>
    Task<string> RerunFromStepAsync(string runId, string stepId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates a cron schedule for a function at run time (as <c>TriggerOnCron</c> does in code): it fires once per slot
    /// over all nodes, and is kept until deleted. With <see cref="ScheduleOptions.DeduplicationKey"/>, creating it again
    /// updates the existing one.
    /// </summary>
    /// <exception cref="UnknownFunctionException">No node registered the function.</exception>
    /// <exception cref="ArgumentException">The expression, time zone or options are invalid; the message says which.</exception>
    Task<ScheduleInfo> CreateScheduleAsync(string functionId, string cron, ScheduleOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>A schedule by id, or null.</summary>
    Task<ScheduleInfo?> GetScheduleAsync(string scheduleId, CancellationToken cancellationToken = default);

    /// <summary>Schedules ordered by id, optionally of one function or external id; pass the last id seen as <paramref name="afterId"/> for the next page.</summary>
    Task<IReadOnlyList<ScheduleInfo>> ListSchedulesAsync(string? functionId = null, string? externalId = null, string? afterId = null, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>Changes a schedule created through the client: its expression and options (the next slot follows the new expression).</summary>
    /// <exception cref="KeyNotFoundException">There is no such schedule.</exception>
    /// <exception cref="InvalidOperationException">The schedule is declared in code.</exception>
    Task<ScheduleInfo> UpdateScheduleAsync(string scheduleId, string cron, ScheduleOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Stops a schedule from firing until <see cref="ResumeScheduleAsync"/>. Schedules in code can be paused too.</summary>
    /// <exception cref="KeyNotFoundException">There is no such schedule.</exception>
    Task PauseScheduleAsync(string scheduleId, CancellationToken cancellationToken = default);

    /// <summary>Resumes a paused schedule from its next slot after now (slots passed while paused are not fired).</summary>
    /// <exception cref="KeyNotFoundException">There is no such schedule.</exception>
    Task ResumeScheduleAsync(string scheduleId, CancellationToken cancellationToken = default);

    /// <summary>Deletes a schedule created through the client. Returns false when there was none.</summary>
    /// <exception cref="InvalidOperationException">The schedule is declared in code (remove it from the code instead).</exception>
    Task<bool> DeleteScheduleAsync(string scheduleId, CancellationToken cancellationToken = default);

    /// <summary>Runs, newest first, filtered, a page at a time (without their steps; <see cref="GetRunAsync"/> has them).</summary>
    /// <exception cref="ArgumentException">The query is invalid (a limit out of range, a cursor this API did not give).</exception>
    Task<RunPage> ListRunsAsync(RunQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// How many runs match the query, by status (its status, cursor and limit are ignored); statuses without runs are left
    /// out.
    /// </summary>
    Task<IReadOnlyDictionary<RunStatus, long>> CountRunsAsync(RunQuery query, CancellationToken cancellationToken = default);

    /// <summary>Every queue that has unfinished runs or is paused, by name, with its runs counted by state.</summary>
    Task<IReadOnlyList<QueueInfo>> ListQueuesAsync(CancellationToken cancellationToken = default);

    /// <summary>The functions registered by any node sharing this storage, by id.</summary>
    Task<IReadOnlyList<FunctionInfo>> ListFunctionsAsync(CancellationToken cancellationToken = default);

    /// <summary>An accepted event and the runs it started, or null.</summary>
    Task<EventInfo?> GetEventAsync(string eventId, CancellationToken cancellationToken = default);

    /// <summary>Accepted events, newest first, optionally of one name, a page at a time (each with the runs it started).</summary>
    /// <exception cref="ArgumentException">A limit out of range (1 to 1,000), or a cursor this API did not give.</exception>
    Task<EventPage> ListEventsAsync(string? name = null, int limit = 50, string? cursor = null, CancellationToken cancellationToken = default);
}

namespace Baton.Storage;

/// <summary>An event as stored: the payload is raw JSON text.</summary>
public sealed record EventRecord(string Id, string Name, string DataJson, DateTimeOffset Timestamp, DateTimeOffset ReceivedAt);

/// <summary>A run to create and enqueue. <paramref name="InputJson"/> is a JSON array of the triggering events.</summary>
public sealed record NewRun(string Id, string FunctionId, string InputJson, DateTimeOffset CreatedAt, DateTimeOffset AvailableAt, string? EventId);

/// <summary>An event to append together with the runs it starts; the runs are created only if the event id is new.</summary>
public sealed record EventAppend(EventRecord Event, IReadOnlyList<NewRun> Runs);

/// <summary>A run as stored.</summary>
public sealed record RunRecord(
    string Id,
    string FunctionId,
    RunStatus Status,
    string InputJson,
    string? OutputJson,
    RunError? Error,
    int Attempt,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt);

/// <summary>One journal entry: a step's state and committed result.</summary>
public sealed record StepRecord(
    string Key,
    StepKind Kind,
    StepStatus Status,
    string? OutputJson,
    RunError? Error,
    int Attempts,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    DateTimeOffset? WakeAt);

/// <summary>
/// Proof of ownership of a claimed run. <paramref name="Token"/> grows with every claim, so a write carrying an old
/// token is refused (fencing) once another worker has claimed the run.
/// </summary>
public readonly record struct RunLease(string RunId, string Owner, long Token);

/// <summary>A run handed to a worker by a claim.</summary>
public sealed record ClaimedRun(RunLease Lease, string FunctionId, string InputJson, int Attempt, DateTimeOffset CreatedAt);

/// <summary>How a suspended run goes back to the queue: when it is due, its status meanwhile, and its attempt.</summary>
public sealed record RunSuspension(DateTimeOffset WakeAt, RunStatus Status, int Attempt);

/// <summary>How a run ended, and the events (with the runs they start) emitted in the same transaction.</summary>
public sealed record RunCompletion(RunStatus Status, string? OutputJson, RunError? Error, DateTimeOffset EndedAt, IReadOnlyList<EventAppend> Emitted);

/// <summary>A function as registered in storage by a worker, so other nodes know it and route its events.</summary>
public sealed record FunctionRegistration(string Id, IReadOnlyList<string> Triggers, string DefinitionJson, string Hash, DateTimeOffset UpdatedAt);

/// <summary>A registered function that an event name triggers.</summary>
public readonly record struct TriggerMatch(string EventName, string FunctionId);

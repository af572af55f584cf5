namespace Baton.Storage;

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

namespace Baton.Storage;

/// <summary>How a run ended, and the events (with the runs they start) emitted in the same transaction.</summary>
public sealed record RunCompletion(RunStatus Status, string? OutputJson, RunError? Error, DateTimeOffset EndedAt, IReadOnlyList<EventAppend> Emitted);

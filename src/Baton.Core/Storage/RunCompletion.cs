namespace Baton.Storage;

/// <summary>How a run ended, and the events (with the runs they start) emitted in the same transaction.</summary>
/// <remarks>
/// <paramref name="MayHaveParent"/> false says the run is known to have no parent (its claim said so; a run's parent is
/// set when it is created and never changes), so a store need not look for one to report the end to. True, the
/// default, leaves the store to find out.
/// </remarks>
public sealed record RunCompletion(
    RunStatus Status,
    string? OutputJson,
    RunError? Error,
    DateTimeOffset EndedAt,
    IReadOnlyList<EventAppend> Emitted,
    bool MayHaveParent = true);

namespace Baton.Storage;

/// <summary>
/// A page of runs as storage reads it: newest first (created_at, then id, both descending), after the position
/// (<paramref name="AfterCreatedAt"/>, <paramref name="AfterId"/>) when given, up to <paramref name="Limit"/>.
/// </summary>
public sealed record RunFilter(
    string? FunctionId,
    RunStatus? Status,
    string? Tag,
    string? EventId,
    DateTimeOffset? From,
    DateTimeOffset? To,
    DateTimeOffset? AfterCreatedAt,
    string? AfterId,
    int Limit);

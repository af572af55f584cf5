namespace Baton;

/// <summary>
/// At most <paramref name="Limit"/> runs per <paramref name="Period"/> (per value of <paramref name="Key"/>, a CEL
/// expression over the event; null: for the whole function), over all nodes. Events beyond it start no run; each is
/// recorded as skipped. Applies to runs started by events.
/// </summary>
public sealed record RateLimit(int Limit, TimeSpan Period, string? Key = null);

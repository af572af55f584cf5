namespace Baton;

/// <summary>
/// At most <paramref name="Limit"/> run starts per <paramref name="Period"/> (per value of <paramref name="Key"/>; null:
/// for the whole function), plus <paramref name="Burst"/> extra at once, over all nodes. Runs beyond it are not dropped:
/// each is queued to start at the first moment the limit allows.
/// </summary>
public sealed record Throttle(int Limit, TimeSpan Period, string? Key = null, int Burst = 0);

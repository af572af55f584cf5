namespace Baton;

/// <summary>
/// A limit on how many runs of a function execute at once: for the whole function, or, with <paramref name="Key"/>, per
/// value of that CEL expression over the triggering event (such as <c>event.data.tenantId</c>). Only executing runs
/// hold a slot: runs that sleep or wait for an event or for children do not. Enforced across every node.
/// </summary>
/// <param name="Limit">How many at once (at least 1).</param>
/// <param name="Key">The expression whose value names the bucket; null limits the function as a whole.</param>
public sealed record ConcurrencyLimit(int Limit, string? Key = null);

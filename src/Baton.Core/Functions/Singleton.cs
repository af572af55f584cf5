namespace Baton;

/// <summary>
/// At most one unfinished run (queued, running or waiting) of the function per value of <paramref name="Key"/> (a CEL
/// expression over the triggering event; null: one for the whole function), held across every node.
/// </summary>
/// <param name="Key">The expression naming the singleton, or null for the function as a whole.</param>
/// <param name="Mode">Skip the new run, or cancel the old one.</param>
public sealed record Singleton(string? Key = null, SingletonMode Mode = SingletonMode.Skip);

using System.Collections.Concurrent;

namespace Baton.Tests.Infrastructure;

/// <summary>Counts how often each named thing ran; one instance per test, shared through DI or closures.</summary>
public sealed class Counter
{
    private readonly ConcurrentDictionary<string, int> _counts = new();

    public int Hit(string name) => _counts.AddOrUpdate(name, 1, (_, n) => n + 1);

    public int this[string name] => _counts.GetValueOrDefault(name);
}

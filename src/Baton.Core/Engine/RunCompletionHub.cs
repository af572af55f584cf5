using System.Collections.Concurrent;

namespace Baton.Engine;

/// <summary>Wakes in-process waiters (<c>WaitForRunAsync</c>) as soon as a run this node executed has ended.</summary>
internal sealed class RunCompletionHub
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    public Task WaitAsync(string runId) =>
        _waiters.GetOrAdd(runId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Forget(string runId, Task waiter)
    {
        if (_waiters.TryGetValue(runId, out var source) && source.Task == waiter)
        {
            _waiters.TryRemove(new KeyValuePair<string, TaskCompletionSource>(runId, source));
        }
    }

    public void Notify(string runId)
    {
        if (_waiters.TryRemove(runId, out var source))
        {
            source.TrySetResult();
        }
    }
}

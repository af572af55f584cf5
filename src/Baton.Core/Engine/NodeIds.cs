using System.Diagnostics;
using System.Globalization;

namespace Baton.Engine;

/// <summary>Node ids of the form <c>host:pid:random</c>, and whether such a node was a process here that is gone.</summary>
internal static class NodeIds
{
    // Workers alive in this process. Several hosts may share a process (tests, multi-tenant apps); only an id that is
    // not among them can belong to a host of this process that is gone.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> LiveWorkers = new(StringComparer.Ordinal);

    public static void MarkAlive(string nodeId) => LiveWorkers[nodeId] = 0;

    public static void MarkGone(string nodeId) => LiveWorkers.TryRemove(nodeId, out _);

    public static string ForThisProcess() =>
        string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}");

    public static bool IsDeadLocalProcess(string nodeId)
    {
        var parts = nodeId.Split(':');
        if (parts.Length != 3 || parts[0] != Environment.MachineName || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var pid))
        {
            return false;
        }

        if (pid == Environment.ProcessId)
        {
            return !LiveWorkers.ContainsKey(nodeId);
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }
}

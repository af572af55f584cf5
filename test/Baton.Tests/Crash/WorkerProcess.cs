using System.Diagnostics;
using Baton.Tests.Infrastructure;

namespace Baton.Tests.Crash;

/// <summary>A Baton.CrashWorker process: a real worker node the tests can SIGKILL.</summary>
public sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;

    private WorkerProcess(Process process) => _process = process;

    /// <summary>The process id, part of the node id (<c>host:pid:random</c>) that owns its leases.</summary>
    public int Id => _process.Id;

    /// <summary>Starts a worker on a SQLite file or (with a schema) a PostgreSQL database and waits until it is ready.</summary>
    public static async Task<WorkerProcess> StartAsync(string database, string ledger, string? schema = null)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Baton.CrashWorker.dll"));
        info.ArgumentList.Add(database);
        info.ArgumentList.Add(ledger);
        if (schema is not null)
        {
            info.ArgumentList.Add(schema);
        }

        var worker = new WorkerProcess(Process.Start(info)!);
        var line = await worker._process.StandardOutput.ReadLineAsync().WaitAsync(TestHost.Timeout);
        Assert.Equal("READY", line);
        return worker;
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TestHost.Timeout);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
    }
}

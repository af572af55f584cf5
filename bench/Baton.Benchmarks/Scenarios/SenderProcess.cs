using System.Diagnostics;

namespace Baton.Benchmarks.Scenarios;

/// <summary>This benchmark program started again in sender mode: a separate process that sends events on request.</summary>
public sealed class SenderProcess : IDisposable
{
    private readonly Process _process;

    private SenderProcess(Process process) => _process = process;

    public static SenderProcess Start(BenchStorage storage, BenchEnvironment environment, string database)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { typeof(SenderProcess).Assembly.Location, "--sender", storage.ToString(), environment.WorkDirectory, environment.PostgresConnectionString ?? "", database })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        if (process.StandardOutput.ReadLine() != "ready")
        {
            throw new InvalidOperationException("The sender process did not start.");
        }

        return new SenderProcess(process);
    }

    /// <summary>Asks the sender to send event number <paramref name="n"/> now; returns once it was sent.</summary>
    public async Task SendAsync(int n)
    {
        await _process.StandardInput.WriteLineAsync(n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await _process.StandardInput.FlushAsync();
        var answer = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (answer != "ok")
        {
            throw new InvalidOperationException($"The sender process answered '{answer}'.");
        }
    }

    /// <summary>The sender's side: runs until its standard input closes.</summary>
    public static async Task RunAsync(string[] args)
    {
        var storage = Enum.Parse<BenchStorage>(args[1]);
        var environment = new BenchEnvironment(args[2], args[3].Length == 0 ? null : args[3]);
        await using var node = await BatonNode.StartAsync(environment, storage, args[4], _ => { }, runWorker: false);
        Console.WriteLine("ready");
        while (await Console.In.ReadLineAsync() is { } line)
        {
            var n = int.Parse(line, System.Globalization.CultureInfo.InvariantCulture);
            await node.Client.SendAsync(new BatonEvent("bench/ping", new { n, ts = Stopwatch.GetTimestamp() }));
            Console.WriteLine("ok");
        }
    }

    public void Dispose()
    {
        _process.StandardInput.Close();
        if (!_process.WaitForExit(10_000))
        {
            _process.Kill();
        }

        _process.Dispose();
    }
}

using System.Diagnostics;

namespace Baton.Benchmarks.Scenarios;

/// <summary>This benchmark program started again in sender mode: a separate process that sends events on request.</summary>
public sealed class SenderProcess : IDisposable
{
    private readonly Process _process;

    private SenderProcess(Process process) => _process = process;

    public static SenderProcess Start(BenchStorage storage, BenchEnvironment environment, string database) =>
        Start(["--sender", storage.ToString(), environment.WorkDirectory, environment.PostgresConnectionString ?? "", database]);

    /// <summary>A sender that enqueues Hangfire jobs into the peer's storage at <paramref name="locator"/>.</summary>
    public static SenderProcess StartHangfire(Peers.PeerStorage storage, string locator, string? postgresConnectionString) =>
        Start(["--hangfire-sender", storage.ToString(), locator, postgresConnectionString ?? ""]);

    private static SenderProcess Start(string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(typeof(SenderProcess).Assembly.Location);
        foreach (var arg in args)
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

    /// <summary>
    /// Asks the sender to send event (or enqueue job) number <paramref name="n"/> now; returns once it was sent, with
    /// what the sender said about it (a Hangfire sender: the job's stamp).
    /// </summary>
    public async Task<string> SendAsync(int n)
    {
        await _process.StandardInput.WriteLineAsync(n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await _process.StandardInput.FlushAsync();
        var answer = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (answer is null || !(answer == "ok" || answer.StartsWith("ok ", StringComparison.Ordinal)))
        {
            throw new InvalidOperationException($"The sender process answered '{answer}'.");
        }

        return answer.Length > 3 ? answer[3..] : "";
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

using System.Diagnostics;
using Baton.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Baton.Tests.Crash;

/// <summary>
/// A real worker process runs multi-step runs against a SQLite file and is killed with SIGKILL at random moments,
/// then restarted, several times. Every run must complete, no committed step may run again, and no event may be lost.
/// </summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    private const int Rounds = 6;
    private const int EventsPerRound = 40;

    [Fact]
    public async Task Worker_KilledAtRandomMoments_EveryRunCompletesAndNoCommittedStepRunsTwice()
    {
        using var directory = new TempDirectory();
        var database = directory.File("baton.db");
        var ledger = directory.File("ledger.tsv");
        var random = new Random(Environment.TickCount);

        // This process only sends events and reads runs; the worker process executes them.
        await using var sender = await TestHost.StartAsync(b => { }, database, options: o => o.RunWorker = false);
        var runIds = new List<string>();
        var kills = 0;
        var interrupted = 0;
        for (var round = 0; round < Rounds; round++)
        {
            using var worker = StartWorker(database, ledger);
            await WaitForReadyAsync(worker);
            for (var i = 0; i < EventsPerRound; i++)
            {
                var index = (round * EventsPerRound) + i;
                var sent = await sender.Client.SendAsync(new BatonEvent("crash/started", new { index }) { Id = $"crash-{index}" });
                runIds.AddRange(sent.RunIds);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(50, 1200)));
            if (Db.Scalar(database, "SELECT COUNT(*) FROM runs WHERE status NOT IN (3, 4, 5)") > 0)
            {
                interrupted++;
            }

            worker.Kill();
            await worker.WaitForExitAsync().WaitAsync(TestHost.Timeout);
            kills++;
        }

        // Events sent twice (same ids) must not add runs.
        var resent = await sender.Client.SendAsync(new BatonEvent("crash/started", new { index = 0 }) { Id = "crash-0" });
        Assert.Empty(resent.RunIds);

        using (var final = StartWorker(database, ledger))
        {
            await WaitForReadyAsync(final);
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (Db.Scalar(database, "SELECT COUNT(*) FROM runs WHERE status NOT IN (3, 4, 5)") > 0 ||
                   Db.Scalar(database, "SELECT COUNT(*) FROM runs WHERE function_id = 'crash-child'") < Rounds * EventsPerRound)
            {
                Assert.True(DateTime.UtcNow < deadline, "all runs complete after the last restart; " + Describe(database));
                await Task.Delay(50);
            }

            final.Kill();
            await final.WaitForExitAsync();
        }

        Assert.True(interrupted > 0, "at least one kill landed while runs were unfinished");
        Assert.Equal(Rounds * EventsPerRound, runIds.Count);
        Assert.Equal(Rounds * EventsPerRound, Db.Scalar(database, "SELECT COUNT(*) FROM runs WHERE function_id = 'crash-pipeline' AND status = 3"));
        Assert.Equal(Rounds * EventsPerRound, Db.Scalar(database, "SELECT COUNT(*) FROM runs WHERE function_id = 'crash-child' AND status = 3"));
        Assert.Equal(0, Db.Scalar(database, "SELECT COUNT(*) FROM runs WHERE status <> 3"));

        // Every committed step result names the execution that produced it; that execution must be the last one in
        // the ledger for its step. An execution after it would be a committed step running again.
        var executions = File.ReadAllLines(ledger).Select(l => l.Split('\t')).GroupBy(p => (p[0], p[1])).ToDictionary(g => g.Key, g => g.Select(p => p[2]).ToList());
        var committed = Db.Rows(database, "SELECT run_id, key, json_extract(output, '$') FROM steps WHERE kind = 0 AND status = 0");
        Assert.Equal(Rounds * EventsPerRound * 7, committed.Count);
        var reruns = 0;
        foreach (var step in committed)
        {
            var ran = executions[(step[0], step[1])];
            Assert.Equal(ran[^1], step[2]);
            reruns += ran.Count - 1;
        }

        output.WriteLine($"{kills} kills ({interrupted} with runs unfinished); {committed.Count} committed steps; {reruns} step bodies re-ran because a kill came before their commit");
    }

    private static string Describe(string database) =>
        string.Join("; ", Db.Rows(database, "SELECT function_id, status, COUNT(*) FROM runs GROUP BY 1, 2").Select(r => string.Join(",", r)))
        + " | queue: " + string.Join("; ", Db.Rows(database, "SELECT run_id, function_id, available_at, owner, token FROM queue LIMIT 5").Select(r => string.Join(",", r)))
        + " | now " + DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static Process StartWorker(string database, string ledger)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Baton.CrashWorker.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add(database);
        info.ArgumentList.Add(ledger);
        return Process.Start(info)!;
    }

    private static async Task WaitForReadyAsync(Process worker)
    {
        var line = await worker.StandardOutput.ReadLineAsync().WaitAsync(TestHost.Timeout);
        Assert.Equal("READY", line);
    }
}

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
        using var storage = new SqliteTestStorage();
        var ledger = directory.File("ledger.tsv");
        var random = new Random(Environment.TickCount);

        // This process only sends events and reads runs; the worker process executes them.
        await using var sender = await TestHost.StartAsync(b => { }, storage, options: o => o.RunWorker = false);
        var runIds = new List<string>();
        var kills = 0;
        var interrupted = 0;
        for (var round = 0; round < Rounds; round++)
        {
            using var worker = await WorkerProcess.StartAsync(storage.Path, ledger);
            for (var i = 0; i < EventsPerRound; i++)
            {
                var index = (round * EventsPerRound) + i;
                var sent = await sender.Client.SendAsync(new BatonEvent("crash/started", new { index }) { Id = $"crash-{index}" });
                runIds.AddRange(sent.RunIds);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(50, 1200)));
            if (storage.Scalar("SELECT COUNT(*) FROM runs WHERE status NOT IN (3, 4, 5)") > 0)
            {
                interrupted++;
            }

            await worker.KillAsync();
            kills++;
        }

        // Events sent twice (same ids) must not add runs.
        var resent = await sender.Client.SendAsync(new BatonEvent("crash/started", new { index = 0 }) { Id = "crash-0" });
        Assert.Empty(resent.RunIds);

        using (var final = await WorkerProcess.StartAsync(storage.Path, ledger))
        {
            await WaitForAllAsync(storage, Rounds * EventsPerRound);
            await final.KillAsync();
        }

        Assert.True(interrupted > 0, "at least one kill landed while runs were unfinished");
        Assert.Equal(Rounds * EventsPerRound, runIds.Count);
        Assert.Equal(Rounds * EventsPerRound, storage.Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'crash-pipeline' AND status = 3"));
        Assert.Equal(Rounds * EventsPerRound, storage.Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'crash-child' AND status = 3"));
        Assert.Equal(0, storage.Scalar("SELECT COUNT(*) FROM runs WHERE status <> 3"));

        // Each child's event had its data stored out of line, and each child read it back intact (it fails otherwise).
        Assert.Equal(Rounds * EventsPerRound, storage.Scalar("SELECT COUNT(*) FROM events WHERE name = 'crash/child' AND data LIKE '{\"\\u0001baton-large-value\":%'"));
        var reruns = await LedgerCheck.VerifyAsync(ledger, storage, Rounds * EventsPerRound * 7);
        output.WriteLine($"{kills} kills ({interrupted} with runs unfinished); {Rounds * EventsPerRound * 7} committed steps; {reruns} step bodies re-ran because a kill came before their commit");
    }

    /// <summary>Waits until every pipeline run and its child have ended.</summary>
    internal static async Task WaitForAllAsync(TestStorage storage, int pipelines)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (storage.Scalar("SELECT COUNT(*) FROM runs WHERE status NOT IN (3, 4, 5)") > 0 ||
               storage.Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'crash-child'") < pipelines)
        {
            Assert.True(DateTime.UtcNow < deadline, "all runs complete after the last restart; " + Describe(storage));
            await Task.Delay(50);
        }
    }

    private static string Describe(TestStorage storage) =>
        string.Join("; ", storage.Rows("SELECT function_id, status, COUNT(*) FROM runs GROUP BY function_id, status").Select(r => string.Join(",", r)))
        + " | queue: " + string.Join("; ", storage.Rows("SELECT run_id, function_id, available_at, owner, token FROM queue LIMIT 5").Select(r => string.Join(",", r)));
}

using Baton.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Baton.Tests.Crash;

/// <summary>
/// Three worker processes share one PostgreSQL database and process many multi-step runs while one of them is killed
/// with SIGKILL and later restarted. Every run completes once, no committed step runs again on any node, and a
/// concurrency limit holds across the nodes.
/// </summary>
public sealed class MultiNodeTests(ITestOutputHelper output)
{
    private const int Runs = 1200;

    [Fact]
    public async Task ThreeNodes_OneKilledAndRestarted_EveryRunCompletesAndNoCommittedStepRunsTwice()
    {
        using var directory = new TempDirectory();
        using var storage = new PostgresTestStorage();
        var ledger = directory.File("ledger.tsv");
        var connection = storage.Server.ConnectionString;

        await using var sender = await TestHost.StartAsync(b => { }, storage, options: o => o.RunWorker = false);
        var workers = new List<WorkerProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                workers.Add(await WorkerProcess.StartAsync(connection, ledger, storage.Schema));
            }

            var runIds = new List<string>();
            foreach (var chunk in Enumerable.Range(0, Runs).Chunk(100))
            {
                var sent = await sender.Client.SendAsync(chunk.Select(i => new BatonEvent("crash/started", new { index = i }) { Id = $"multi-{i}" }));
                runIds.AddRange(sent.RunIds);
            }

            // Kill one node once it holds work, and bring it back only after the surviving nodes have taken its runs over
            // by lease expiry.
            await TestHost.EventuallyAsync(() => Task.FromResult(storage.Scalar("SELECT COUNT(*) FROM steps") > Runs), "the nodes are busy");
            var victim = $"%:{workers[0].Id}:%";
            var victimRuns = storage.Scalar($"SELECT COUNT(*) FROM queue WHERE owner LIKE '{victim}'");
            await workers[0].KillAsync();
            var doneAtKill = storage.Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'crash-pipeline' AND status = 3");

            // Every run the dead node held must be taken over by a survivor (its lease expired and was claimed again).
            await TestHost.EventuallyAsync(
                () => Task.FromResult(storage.Scalar($"SELECT COUNT(*) FROM queue WHERE owner LIKE '{victim}'") == 0),
                "the survivors took over the killed node's runs");
            workers[0].Dispose();
            workers[0] = await WorkerProcess.StartAsync(connection, ledger, storage.Schema);

            await CrashRecoveryTests.WaitForAllAsync(storage, Runs);

            Assert.Equal(Runs, runIds.Count);
            Assert.True(doneAtKill < Runs, "the kill came while runs were unfinished");
            Assert.True(victimRuns > 0, "the killed node held leased runs");
            Assert.Equal(Runs, storage.Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'crash-pipeline' AND status = 3"));
            Assert.Equal(Runs, storage.Scalar("SELECT COUNT(*) FROM runs WHERE function_id = 'crash-child' AND status = 3"));
            Assert.Equal(0, storage.Scalar("SELECT COUNT(*) FROM runs WHERE status <> 3"));
            var reruns = await LedgerCheck.VerifyAsync(ledger, storage, Runs * 7);

            // crash-child is limited to 3 executing runs: across the three processes, never more ran at once.
            Assert.InRange(LedgerCheck.MaxOverlap(ledger, "child-work"), 1, 3);
            var nodes = LedgerCheck.Lines(ledger).Count;
            output.WriteLine($"{Runs} runs on 3 nodes, one killed with {Runs - doneAtKill} runs unfinished; {Runs * 7} committed steps; {reruns} bodies re-ran before commit; {nodes} executions in the ledger");
        }
        finally
        {
            foreach (var worker in workers)
            {
                worker.Dispose();
            }
        }
    }
}

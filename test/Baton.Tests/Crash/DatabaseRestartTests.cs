using System.Collections.Concurrent;
using System.Diagnostics;
using Baton.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Baton.Tests.Crash;

/// <summary>
/// PostgreSQL is restarted in the middle of a load. Workers and senders reconnect by themselves; every event whose send
/// was acknowledged gets its run completed, and no committed step runs again.
/// </summary>
public sealed class DatabaseRestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task PostgreSqlRestart_MidLoad_WorkersReconnectAndNothingAcceptedIsLost()
    {
        await using var server = await PostgresServer.StartThrowawayAsync();
        using var storage = new PostgresTestStorage(server);
        var executions = new ConcurrentQueue<(long Timestamp, string RunId, string Key, string Execution)>();

        async Task<string> Work(string runId, StepExecution step)
        {
            await Task.Delay(Random.Shared.Next(1, 10));
            var execution = Guid.NewGuid().ToString("N");
            executions.Enqueue((Stopwatch.GetTimestamp(), runId, step.Key, execution));
            return execution;
        }

        await using var worker = await TestHost.StartAsync(
            b => b.AddFunction<object>("pipeline", f =>
            {
                f.TriggerOn("load/item");
                f.Retries = 10;
                f.Backoff = Backoff.Fixed(TimeSpan.FromMilliseconds(200));
            }, async ctx =>
            {
                for (var i = 0; i < 3; i++)
                {
                    await ctx.Step.Run("work", s => Work(ctx.RunId, s));
                }
            }),
            storage,
            options: o =>
            {
                o.LeaseDuration = TimeSpan.FromSeconds(2);
                o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
            });
        await using var sender = await TestHost.StartAsync(_ => { }, storage, options: o => o.RunWorker = false);

        var accepted = new List<string>();
        var refused = 0;
        var restarted = false;
        for (var i = 0; i < 600; i++)
        {
            if (i == 300)
            {
                await server.RestartAsync();
                restarted = true;
            }

            try
            {
                var sent = await sender.Client.SendAsync(new BatonEvent("load/item", new { i }) { Id = $"load-{i}" });
                accepted.AddRange(sent.RunIds);
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or InvalidOperationException or IOException)
            {
                // Not acknowledged, so not accepted: the caller knows and may send again.
                refused++;
            }
        }

        Assert.True(restarted);
        var acceptedIds = string.Join(",", accepted.Select(a => $"'{a}'"));
        await TestHost.EventuallyAsync(
            () => Task.FromResult(storage.Scalar($"SELECT COUNT(*) FROM runs WHERE status = 3 AND id IN ({acceptedIds})") == accepted.Count),
            "every accepted run completes after the restart");

        Assert.True(accepted.Count >= 550, $"{accepted.Count} of 600 sends were accepted");

        // No committed step ran again: each committed result is the last execution of its step.
        var byStep = executions.OrderBy(e => e.Timestamp).GroupBy(e => (e.RunId, e.Key)).ToDictionary(g => g.Key, g => g.Select(e => e.Execution).ToList());
        var committed = storage.Rows("SELECT run_id, key, output FROM steps WHERE status = 0");
        foreach (var step in committed)
        {
            Assert.Equal(byStep[(step[0], step[1])][^1], step[2].Trim('"'));
        }

        output.WriteLine($"{accepted.Count} sends accepted, {refused} refused during the restart; {committed.Count} committed steps; {executions.Count - committed.Count} bodies re-ran before their commit");
    }
}

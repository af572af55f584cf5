// A worker process for the crash and multi-node tests: runs a multi-step pipeline against a SQLite file or a
// PostgreSQL schema and records every step body execution in a ledger file, so the test can tell whether a committed
// step ever ran again. The tests kill it with SIGKILL at random moments and start it again.
using System.Text;
using Baton;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Baton.CrashWorker <sqlite-file | postgres connection string> <ledger> [postgres schema]");
    return 2;
}

var database = args[0];
var ledger = new Ledger(args[1]);
var schema = args.Length > 2 ? args[2] : null;

var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Error);
builder.Services.AddBaton(b => (schema is null ? b.UseSqlite(database) : b.UsePostgreSql(database, o => o.Schema = schema))
    .Configure(o =>
    {
        o.PollInterval = TimeSpan.FromMilliseconds(100);
        o.LeaseDuration = TimeSpan.FromSeconds(2);
        o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
        o.HotWaitLimit = TimeSpan.FromMilliseconds(50);

        // Every step result (an execution id padded past this) is stored out of line, so kills also land between a
        // large value's write and the checkpoint that refers to it.
        o.LargeValueBytes = 1024;
    })
    .AddFunction<CrashEvent>("crash-pipeline", f =>
    {
        f.TriggerOn("crash/started");
        f.Retries = 5;
        f.Backoff = Backoff.Fixed(TimeSpan.FromMilliseconds(20));
    }, async ctx =>
    {
        var results = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            results.Add(await ctx.Step.Run("work", s => ledger.ExecuteAsync(ctx.RunId, s)));
            if (i == 1)
            {
                // Long enough to suspend the run (over the hot-wait limit), so kills also hit sleeping runs.
                await ctx.Step.Sleep("pause", TimeSpan.FromMilliseconds(150));
            }
        }

        // Padded past LargeValueBytes too: the event's data is stored out of line, and a kill may land between that
        // write and the append.
        await ctx.Step.SendEvent("notify", new BatonEvent("crash/child", new ChildEvent(ctx.RunId, new string('~', 1500))));
        var (a, b) = (ctx.Step.Run("left", s => ledger.ExecuteAsync(ctx.RunId, s)), ctx.Step.Run("right", s => ledger.ExecuteAsync(ctx.RunId, s)));
        results.AddRange(await Task.WhenAll(a, b));
        return results;
    })
    // A concurrency limit that must hold across every worker process on the database.
    .AddFunction<ChildEvent>("crash-child", f => f.TriggerOn("crash/child").LimitConcurrency(3), async ctx =>
        await ctx.Step.Run("child-work", s => ctx.Event.Data.Pad == new string('~', 1500)
            ? ledger.ExecuteAsync(ctx.RunId, s)
            : throw new NonRetriableException($"The event's data came back changed: {ctx.Event.Data}"))));

using var host = builder.Build();
await host.StartAsync();
Console.WriteLine("READY");
await host.WaitForShutdownAsync();
return 0;

internal sealed record CrashEvent(int Index);

internal sealed record ChildEvent(string Parent, string Pad);

/// <summary>
/// Appends one line per step body execution: a monotonic timestamp of its end (shared by all processes of the machine),
/// run id, step key, a unique execution id, and the timestamp of its start. Each process writes a file of its own (<c>{ledger}.{pid}</c>), so processes
/// never interleave writes; the checker merges the files by timestamp.
/// </summary>
internal sealed class Ledger(string path)
{
    private readonly Lock _gate = new();
    private readonly string _file = $"{path}.{Environment.ProcessId}";

    public async Task<string> ExecuteAsync(string runId, StepExecution step)
    {
        var execution = Guid.NewGuid().ToString("N");
        var started = System.Diagnostics.Stopwatch.GetTimestamp();

        // Some real work, so kills land inside bodies as well as between them.
        await Task.Delay(Random.Shared.Next(1, 15));
        lock (_gate)
        {
            // Written before the body returns (before its commit), in one write() that a SIGKILL cannot tear.
            var line = Encoding.UTF8.GetBytes($"{System.Diagnostics.Stopwatch.GetTimestamp()}\t{runId}\t{step.Key}\t{execution}\t{started}\n");
            using var stream = new FileStream(_file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            stream.Write(line);
        }

        // The test checks the committed result is exactly this: the id and 1,500 '~'.
        return execution + new string('~', 1500);
    }
}

using System.Text;
using Baton.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Engine;

/// <summary>
/// Step results and run outputs above <see cref="BatonOptions.LargeValueBytes"/>: stored compressed out of the hot
/// tables, read back exactly when a replay uses them, across a restart, shown by size until asked for.
/// </summary>
public abstract class LargeValueTests : EngineTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A response as an LLM writes it: ~300 KB of varied text (with non-ASCII characters), fixed by its seed.</summary>
    private static string Response(int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder();
        string[] words = ["contract", "clause", "liability", "résumé", "naïve", "Überblick", "の", "indemnity", "term", "party"];
        while (text.Length < 300_000)
        {
            text.Append(words[random.Next(words.Length)]).Append(random.Next(1000)).Append(' ');
        }

        return text.ToString();
    }

    [Fact]
    public async Task LargeResults_RoundTripExactly_ThroughReplayAcrossARestart_AndStayOutOfTheHotTables()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var counter = new Counter();
        var (first, second) = (Response(1), Response(2));
        void Configure(BatonBuilder b) => b.AddFunction<object>("summarize", null, async ctx =>
        {
            var a = await ctx.Step.Run("analyze-1", () =>
            {
                counter.Hit("analyze-1");
                return first;
            });
            await ctx.Step.Sleep("cool-down", TimeSpan.FromHours(1));
            var b2 = await ctx.Step.Run("analyze-2", () =>
            {
                counter.Hit("analyze-2");
                return second;
            });

            // After the restart, the first result comes back from the journal: it must be exactly what was returned.
            return await ctx.Step.Run("combine", () => a == first && b2 == second ? a + b2 : throw new NonRetriableException("a large result changed"));
        });

        string runId;
        await using (var before = await StartAsync(Configure, storage, time))
        {
            runId = await before.Client.TriggerAsync("summarize");
            await TestHost.EventuallyAsync(async () => await before.StatusAsync(runId) == RunStatus.Waiting, "the run sleeps");
        }

        await using var after = await StartAsync(Configure, storage, time);
        await TestHost.AdvanceUntilAsync(time, TimeSpan.FromHours(1), async () => (await after.StatusAsync(runId)).IsTerminal());
        var run = await after.WaitAsync(runId);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(first + second, run.GetOutput<string>());
        Assert.Equal(1, counter["analyze-1"]);
        Assert.Equal(1, counter["analyze-2"]);

        // The hot tables hold references of a few dozen bytes; the values are compressed elsewhere.
        Assert.True(storage.Scalar("SELECT MAX(LENGTH(output)) FROM steps") < 100);
        Assert.True(storage.Scalar($"SELECT LENGTH(output) FROM runs WHERE id = '{runId}'") < 100);
        Assert.Equal(4, storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{runId}'"));
        // Four values (two results, the combined one, the run output) of 2 × (first + second) characters, compressed.
        Assert.True(storage.Scalar($"SELECT SUM(LENGTH(data)) FROM large_values WHERE run_id = '{runId}'") < first.Length + second.Length);

        // A run shows each large step result by its size; the whole value is one call away. The run's own output is read.
        var step = run.Steps.Single(s => s.Id == "analyze-1");
        Assert.Null(step.Output);
        Assert.Equal(Encoding.UTF8.GetByteCount(System.Text.Json.JsonSerializer.Serialize(first)), step.OutputBytes);
        Assert.Equal(first, (await after.Client.GetStepOutputAsync(runId, "analyze-1"))!.Value.GetString());
        Assert.Null(run.OutputBytes);
        var listed = Assert.Single((await after.Client.ListRunsAsync(new RunQuery { FunctionId = "summarize" })).Runs);
        Assert.Null(listed.Output);
        Assert.True(listed.OutputBytes > 600_000);
    }

    [Fact]
    public async Task ResultOverTheLimit_FailsItsStepAtOnce_NamingTheStepAndTheSize()
    {
        var counter = new Counter();
        await using var host = await StartAsync(
            b => b.AddFunction<object>("too-big", f => f.Retries = 3, async ctx =>
                await ctx.Step.Run("generate", () =>
                {
                    counter.Hit("generate");
                    return new string('x', 200_000);
                })),
            options: o => o.MaxValueBytes = 100_000);

        var run = await host.WaitAsync(await host.Client.TriggerAsync("too-big"));

        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal(1, counter["generate"]);
        var error = run.Steps.Single().Error!;
        Assert.Equal(typeof(PayloadTooLargeException).FullName, error.Type);
        Assert.Contains("The result of step 'generate'", error.Message, StringComparison.Ordinal);
        Assert.Contains("200,002", error.Message, StringComparison.Ordinal);
        Assert.Contains("100,000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RerunFromAStep_GetsItsOwnCopy_SoPurgingTheFirstRunKeepsItReadable()
    {
        using var storage = NewStorage();
        var time = new FakeTimeProvider(Start);
        var big = Response(3);
        var counter = new Counter();
        await using var host = await StartAsync(
            b => b.AddFunction<object>("pipeline", null, async ctx =>
            {
                var text = await ctx.Step.Run("extract", () =>
                {
                    counter.Hit("extract");
                    return big;
                });
                return await ctx.Step.Run("count", () => text.Length);
            }),
            storage,
            time,
            o => o.HistoryRetention = null);

        var original = await host.WaitAsync(await host.Client.TriggerAsync("pipeline"));
        time.Advance(TimeSpan.FromDays(30));
        var rerun = await host.WaitAsync(await host.Client.RerunFromStepAsync(original.Id, "count"));
        Assert.Equal(big.Length, rerun.GetOutput<int>());
        Assert.Equal(1, counter["extract"]);
        Assert.Equal(1, storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{rerun.Id}'"));

        // History retention deletes the first run with its value; the rerun's copy still reads.
        await using var purger = storage.Create(time);
        await purger.InitializeAsync(default);
        await purger.Runs.PurgeAsync(time.GetUtcNow() - TimeSpan.FromDays(7), 100, default);
        Assert.Null(await host.Client.GetRunAsync(original.Id));
        Assert.Equal(0, storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{original.Id}'"));
        Assert.Equal(big, (await host.Client.GetStepOutputAsync(rerun.Id, "extract"))!.Value.GetString());
    }

    [Fact]
    public async Task InvokedChild_LargeOutput_IsOwnedByTheParentThatKeepsItInItsJournal()
    {
        using var storage = NewStorage();
        var big = Response(4);
        await using var host = await StartAsync(
            b => b
                .AddFunction<object>("writer", null, async ctx => await ctx.Step.Run("write", () => big))
                .AddFunction<object>("editor", null, async ctx =>
                {
                    var draft = await ctx.Step.Invoke<string>("draft", "writer");
                    return await ctx.Step.Run("check", () => draft == big);
                }),
            storage);

        var parent = await host.WaitAsync(await host.Client.TriggerAsync("editor"));

        Assert.True(parent.GetOutput<bool>());
        var child = Assert.Single((await host.Client.ListRunsAsync(new RunQuery { FunctionId = "writer" })).Runs);
        Assert.Equal(big, (await host.Client.GetRunAsync(child.Id))!.GetOutput<string>());
        Assert.Equal(big, (await host.Client.GetStepOutputAsync(parent.Id, "draft"))!.Value.GetString());

        // The child's output lives as long as the parent's journal that reads it: it is the parent's to delete.
        Assert.Equal(1, storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{child.Id}'"));
        Assert.Equal(1, storage.Scalar($"SELECT COUNT(*) FROM large_values WHERE run_id = '{parent.Id}'"));
    }

    public sealed class OnSqlite : LargeValueTests
    {
        protected override TestStorage NewStorage() => new SqliteTestStorage();
    }

    public sealed class OnPostgreSql : LargeValueTests
    {
        protected override TestStorage NewStorage() => new PostgresTestStorage();
    }
}

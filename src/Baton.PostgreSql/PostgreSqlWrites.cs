using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

/// <summary>Statements shared by several stores, run inside the writer's transaction.</summary>
internal static class PostgreSqlWrites
{
    public static async Task<bool[]> AppendEventsAsync(PostgreSqlWriter writer, string s, IReadOnlyList<EventAppend> appends)
    {
        var accepted = new bool[appends.Count];
        for (var i = 0; i < appends.Count; i++)
        {
            var e = appends[i].Event;
            await using var command = writer.Command($"INSERT INTO {s}.events (id, name, data, ts, received_at) VALUES (@id, @name, @data, @ts, @received) ON CONFLICT (id) DO NOTHING;")
                .With("id", e.Id).With("name", e.Name).With("data", e.DataJson).With("ts", Ms(e.Timestamp)).With("received", Ms(e.ReceivedAt));
            accepted[i] = await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;

            // A repeated event id was accepted before, with its runs: start none again.
            if (accepted[i] && appends[i].Runs.Count > 0)
            {
                await InsertRunsAsync(writer, s, appends[i].Runs).ConfigureAwait(false);
            }
        }

        return accepted;
    }

    public static async Task InsertRunsAsync(PostgreSqlWriter writer, string s, IReadOnlyList<NewRun> runs)
    {
        // One round trip for all the runs of a call: arrays unnested into rows.
        await using var command = writer.Command($"""
                WITH new AS (
                    SELECT * FROM unnest(@ids, @functions, @inputs, @events, @created, @available)
                        AS t(id, function_id, input, event_id, created_at, available_at)),
                inserted AS (
                    INSERT INTO {s}.runs (id, function_id, status, input, attempt, event_id, created_at)
                    SELECT id, function_id, 0, input, 0, event_id, created_at FROM new)
                INSERT INTO {s}.queue (run_id, function_id, available_at, owner, token)
                SELECT id, function_id, available_at, NULL, 0 FROM new;
                """)
            .With("ids", runs.Select(r => r.Id).ToArray())
            .With("functions", runs.Select(r => r.FunctionId).ToArray())
            .With("inputs", runs.Select(r => r.InputJson).ToArray())
            .With("events", runs.Select(r => r.EventId).ToArray())
            .With("created", runs.Select(r => Ms(r.CreatedAt)).ToArray())
            .With("available", runs.Select(r => Ms(r.AvailableAt)).ToArray());
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        writer.NotifyWork();
    }
}

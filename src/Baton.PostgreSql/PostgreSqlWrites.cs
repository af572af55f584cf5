using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

/// <summary>Statements shared by several stores. Each is one statement, so it travels in the writer's batch.</summary>
internal static class PostgreSqlWrites
{
    /// <summary>
    /// Inserts events and, for each event that is new, its runs, in one statement. Returns the ids of the new events.
    /// <paramref name="condition"/> (a SQL boolean over the statement's earlier CTEs) gates every insert.
    /// </summary>
    public static PgCommand AppendEvents(string s, IReadOnlyList<EventAppend> appends, string prefix = "", string condition = "true", string result = "SELECT id FROM new_events")
    {
        var runs = appends.SelectMany(a => a.Runs.Select(r => (a.Event.Id, Run: r))).ToList();
        var sql = $"""
            {(prefix.Length == 0 ? "WITH" : prefix + ",")}
            new_events AS (
                INSERT INTO {s}.events (id, name, data, ts, received_at)
                SELECT * FROM unnest(@event_ids, @event_names, @event_data, @event_ts, @event_received)
                WHERE {condition}
                ON CONFLICT (id) DO NOTHING
                RETURNING id),
            new_runs AS (
                SELECT * FROM unnest(@run_ids, @run_functions, @run_inputs, @run_events, @run_keys, @run_created, @run_available)
                    AS t(id, function_id, input, event_id, event_key, created_at, available_at)
                WHERE t.event_key IN (SELECT id FROM new_events)),
            inserted_runs AS (
                INSERT INTO {s}.runs (id, function_id, status, input, attempt, event_id, created_at)
                SELECT id, function_id, 0, input, 0, event_id, created_at FROM new_runs),
            inserted_queue AS (
                INSERT INTO {s}.queue (run_id, function_id, available_at, owner, token)
                SELECT id, function_id, available_at, NULL, 0 FROM new_runs)
            {result}
            """;
        return new PgCommand(sql, returnsRows: true)
            .With("event_ids", appends.Select(a => a.Event.Id).ToArray())
            .With("event_names", appends.Select(a => a.Event.Name).ToArray())
            .With("event_data", appends.Select(a => a.Event.DataJson).ToArray())
            .With("event_ts", appends.Select(a => Ms(a.Event.Timestamp)).ToArray())
            .With("event_received", appends.Select(a => Ms(a.Event.ReceivedAt)).ToArray())
            .With("run_ids", runs.Select(r => r.Run.Id).ToArray())
            .With("run_functions", runs.Select(r => r.Run.FunctionId).ToArray())
            .With("run_inputs", runs.Select(r => r.Run.InputJson).ToArray())
            .With("run_events", runs.Select(r => r.Run.EventId).ToArray())
            .With("run_keys", runs.Select(r => r.Id).ToArray())
            .With("run_created", runs.Select(r => Ms(r.Run.CreatedAt)).ToArray())
            .With("run_available", runs.Select(r => Ms(r.Run.AvailableAt)).ToArray());
    }

    /// <summary>Which appends were new: an id returned by the statement, at its first occurrence in the call.</summary>
    public static bool[] Accepted(IReadOnlyList<EventAppend> appends, PgResult result)
    {
        var inserted = result.Rows.Select(r => (string)r[0]!).ToHashSet(StringComparer.Ordinal);
        return [.. appends.Select(a => inserted.Remove(a.Event.Id))];
    }

    public static PgCommand InsertRuns(string s, IReadOnlyList<NewRun> runs) =>
        new PgCommand($"""
                WITH new AS (
                    SELECT * FROM unnest(@ids, @functions, @inputs, @events, @created, @available)
                        AS t(id, function_id, input, event_id, created_at, available_at)),
                inserted AS (
                    INSERT INTO {s}.runs (id, function_id, status, input, attempt, event_id, created_at)
                    SELECT id, function_id, 0, input, 0, event_id, created_at FROM new)
                INSERT INTO {s}.queue (run_id, function_id, available_at, owner, token)
                SELECT id, function_id, available_at, NULL, 0 FROM new
                """)
            .With("ids", runs.Select(r => r.Id).ToArray())
            .With("functions", runs.Select(r => r.FunctionId).ToArray())
            .With("inputs", runs.Select(r => r.InputJson).ToArray())
            .With("events", runs.Select(r => r.EventId).ToArray())
            .With("created", runs.Select(r => Ms(r.CreatedAt)).ToArray())
            .With("available", runs.Select(r => Ms(r.AvailableAt)).ToArray());
}

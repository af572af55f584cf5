using Baton.Storage;
using static Baton.Sqlite.SqliteDatabase;

namespace Baton.Sqlite;

/// <summary>Statements shared by several stores, run inside the writer's transaction.</summary>
internal static class SqliteWrites
{
    public static bool[] AppendEvents(SqliteWriter writer, IReadOnlyList<EventAppend> appends)
    {
        var accepted = new bool[appends.Count];
        for (var i = 0; i < appends.Count; i++)
        {
            var e = appends[i].Event;
            accepted[i] = writer.Command(
                    "INSERT INTO events(id, name, data, ts, received_at) VALUES (@id, @name, @data, @ts, @received) ON CONFLICT(id) DO NOTHING;")
                .With("@id", e.Id).With("@name", e.Name).With("@data", e.DataJson)
                .With("@ts", Ms(e.Timestamp)).With("@received", Ms(e.ReceivedAt))
                .ExecuteNonQuery() == 1;

            // A repeated event id was accepted before, with its runs: start none again.
            if (accepted[i])
            {
                foreach (var run in appends[i].Runs)
                {
                    InsertRun(writer, run);
                }
            }
        }

        return accepted;
    }

    public static void InsertRun(SqliteWriter writer, NewRun run)
    {
        writer.Command(
                "INSERT INTO runs(id, function_id, status, input, attempt, event_id, created_at) VALUES (@id, @fn, 0, @input, 0, @event, @created);")
            .With("@id", run.Id).With("@fn", run.FunctionId).With("@input", run.InputJson)
            .With("@event", run.EventId).With("@created", Ms(run.CreatedAt))
            .ExecuteNonQuery();
        writer.Command("INSERT INTO queue(run_id, function_id, available_at, owner, token) VALUES (@id, @fn, @available, NULL, 0);")
            .With("@id", run.Id).With("@fn", run.FunctionId).With("@available", Ms(run.AvailableAt))
            .ExecuteNonQuery();
    }
}

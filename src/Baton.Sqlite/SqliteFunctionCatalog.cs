using System.Text.Json;
using Baton.Storage;
using static Baton.Sqlite.SqliteDatabase;

namespace Baton.Sqlite;

internal sealed class SqliteFunctionCatalog(SqliteDatabase database) : IFunctionCatalog
{
    public Task RegisterAsync(IReadOnlyList<FunctionRegistration> functions, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(w =>
        {
            foreach (var f in functions)
            {
                w.Command("""
                        INSERT INTO functions(id, definition, hash, updated_at) VALUES (@id, @definition, @hash, @updated)
                        ON CONFLICT(id) DO UPDATE SET definition = excluded.definition, hash = excluded.hash, updated_at = excluded.updated_at
                        WHERE functions.hash <> excluded.hash;
                        """)
                    .With("@id", f.Id).With("@definition", f.DefinitionJson).With("@hash", f.Hash).With("@updated", Ms(f.UpdatedAt))
                    .ExecuteNonQuery();
                w.Command("DELETE FROM function_triggers WHERE function_id = @id;").With("@id", f.Id).ExecuteNonQuery();
                foreach (var trigger in f.Triggers.Distinct(StringComparer.Ordinal))
                {
                    w.Command("INSERT INTO function_triggers(event_name, function_id, condition) VALUES (@name, @id, @condition);")
                        .With("@name", trigger).With("@id", f.Id).With("@condition", f.TriggerConditions.GetValueOrDefault(trigger))
                        .ExecuteNonQuery();
                }

                // Cancel rules: every run created from now on gets a wait per rule (existing runs keep theirs).
                w.Command("DELETE FROM function_cancels WHERE function_id = @id;").With("@id", f.Id).ExecuteNonQuery();
                for (var i = 0; i < f.CancelRules.Count; i++)
                {
                    var rule = f.CancelRules[i];
                    w.Command("INSERT INTO function_cancels(function_id, idx, event_name, match_path, condition) VALUES (@id, @idx, @name, @path, @condition);")
                        .With("@id", f.Id).With("@idx", i).With("@name", rule.EventName).With("@path", rule.MatchPath).With("@condition", rule.Condition)
                        .ExecuteNonQuery();
                    if (rule.MatchPath is not null)
                    {
                        w.Command("INSERT INTO wait_paths(event_name, match_path) VALUES (@name, @path) ON CONFLICT DO NOTHING;")
                            .With("@name", rule.EventName).With("@path", rule.MatchPath).ExecuteNonQuery();
                    }
                }
            }

            return true;
        });

    public Task<IReadOnlyList<FunctionRegistration>> ListAsync(CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT f.id, f.definition, f.hash, f.updated_at,
                   (SELECT json_group_array(t.event_name) FROM function_triggers t WHERE t.function_id = f.id)
            FROM functions f ORDER BY f.id;
            """;
        using var reader = command.ExecuteReader();
        var list = new List<FunctionRegistration>();
        while (reader.Read())
        {
            var triggers = JsonSerializer.Deserialize<string[]>(reader.GetString(4)) ?? [];
            list.Add(new FunctionRegistration(reader.GetString(0), triggers, reader.GetString(1), reader.GetString(2), Time0(reader.GetInt64(3))));
        }

        return Task.FromResult<IReadOnlyList<FunctionRegistration>>(list);
    }

    public Task<IReadOnlyList<TriggerMatch>> FindTriggeredAsync(IReadOnlyCollection<string> eventNames, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT event_name, function_id, condition FROM function_triggers WHERE event_name IN (SELECT value FROM json_each(@names)) ORDER BY function_id;";
        command.With("@names", JsonSerializer.Serialize(eventNames));
        using var reader = command.ExecuteReader();
        var matches = new List<TriggerMatch>();
        while (reader.Read())
        {
            matches.Add(new TriggerMatch(reader.GetString(0), reader.GetString(1), StringOrNull(reader, 2)));
        }

        return Task.FromResult<IReadOnlyList<TriggerMatch>>(matches);
    }

    public Task<bool> ExistsAsync(string functionId, CancellationToken cancellationToken)
    {
        using var connection = database.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT EXISTS (SELECT 1 FROM functions WHERE id = @id);";
        command.With("@id", functionId);
        return Task.FromResult(Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 1);
    }
}

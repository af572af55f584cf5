using Baton.Storage;
using static Baton.PostgreSql.PostgreSqlDatabase;

namespace Baton.PostgreSql;

internal sealed class PostgreSqlFunctionCatalog(PostgreSqlDatabase database) : IFunctionCatalog
{
    private string S => database.Schema;

    public Task RegisterAsync(IReadOnlyList<FunctionRegistration> functions, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(
            [.. functions.SelectMany(f => new[]
            {
                new PgCommand($"""
                        INSERT INTO {S}.functions (id, definition, hash, updated_at) VALUES (@id, @definition, @hash, @updated)
                        ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, hash = excluded.hash, updated_at = excluded.updated_at
                        WHERE {S}.functions.hash <> excluded.hash
                        """).With("id", f.Id).With("definition", f.DefinitionJson).With("hash", f.Hash).With("updated", Ms(f.UpdatedAt)),
                new PgCommand($"DELETE FROM {S}.function_triggers WHERE function_id = @id AND NOT (event_name = ANY(@triggers))")
                    .With("id", f.Id).With("triggers", f.Triggers.Distinct(StringComparer.Ordinal).ToArray()),
                new PgCommand($"""
                        INSERT INTO {S}.function_triggers (event_name, function_id, condition) SELECT t.e, @id, t.c FROM unnest(@triggers, @conditions) AS t(e, c)
                        ON CONFLICT (event_name, function_id) DO UPDATE SET condition = excluded.condition
                        """)
                    .With("id", f.Id).With("triggers", f.Triggers.Distinct(StringComparer.Ordinal).ToArray())
                    .With("conditions", f.Triggers.Distinct(StringComparer.Ordinal).Select(t => f.TriggerConditions.GetValueOrDefault(t)).ToArray()),

                // Cancel rules: every run created from now on gets a wait per rule (existing runs keep theirs).
                new PgCommand($"DELETE FROM {S}.function_cancels WHERE function_id = @id").With("id", f.Id),
                new PgCommand($"""
                        WITH rules AS (SELECT * FROM unnest(@names, @paths, @conditions) WITH ORDINALITY AS r(event_name, match_path, condition, idx)),
                        added AS (
                            INSERT INTO {S}.function_cancels (function_id, idx, event_name, match_path, condition)
                            SELECT @id, idx - 1, event_name, match_path, condition FROM rules)
                        INSERT INTO {S}.wait_paths (event_name, match_path)
                        SELECT DISTINCT event_name, match_path FROM rules WHERE match_path IS NOT NULL
                        ON CONFLICT DO NOTHING
                        """)
                    .With("id", f.Id)
                    .With("names", f.CancelRules.Select(r => r.EventName).ToArray())
                    .With("paths", f.CancelRules.Select(r => r.MatchPath).ToArray())
                    .With("conditions", f.CancelRules.Select(r => r.Condition).ToArray()),
            })],
            _ => true);

    public async Task<IReadOnlyList<FunctionRegistration>> ListAsync(CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"""
            SELECT f.id, f.definition, f.hash, f.updated_at,
                   ARRAY(SELECT t.event_name FROM {S}.function_triggers t WHERE t.function_id = f.id ORDER BY t.event_name)
            FROM {S}.functions f ORDER BY f.id;
            """, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var list = new List<FunctionRegistration>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add(new FunctionRegistration(reader.GetString(0), reader.GetFieldValue<string[]>(4), reader.GetString(1), reader.GetString(2), Time0(reader.GetInt64(3))));
            }

            return list;
        }
    }

    public async Task<IReadOnlyList<TriggerMatch>> FindTriggeredAsync(IReadOnlyCollection<string> eventNames, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync(
            $"SELECT event_name, function_id, condition FROM {S}.function_triggers WHERE event_name = ANY(@names) ORDER BY function_id;", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("names", eventNames.ToArray());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var matches = new List<TriggerMatch>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                matches.Add(new TriggerMatch(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
            }

            return matches;
        }
    }

    public async Task<bool> ExistsAsync(string functionId, CancellationToken cancellationToken)
    {
        var (connection, command) = await database.ReadAsync($"SELECT EXISTS (SELECT 1 FROM {S}.functions WHERE id = @id);", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (command.ConfigureAwait(false))
        {
            command.With("id", functionId);
            return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
    }
}

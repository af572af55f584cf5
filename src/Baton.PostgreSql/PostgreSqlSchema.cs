using Npgsql;

namespace Baton.PostgreSql;

/// <summary>
/// Versioned migrations in <c>{schema}.schema_version</c>, applied in one transaction under an advisory lock, so
/// several nodes starting at once migrate exactly once.
/// </summary>
internal static class PostgreSqlSchema
{
    // "{s}" is replaced by the validated schema name.
    private static readonly string[] Migrations =
    [
        // 1: the initial schema. The queue is the hot table: one row per unfinished run; "available_at" is both the
        // due time of a queued run and the lease expiry of a claimed one, so one index serves every claim. A low
        // fillfactor leaves room for HOT updates of its many lease changes.
        """
        CREATE TABLE {s}.events (
            id text PRIMARY KEY,
            name text NOT NULL,
            data text NOT NULL,
            ts bigint NOT NULL,
            received_at bigint NOT NULL);
        CREATE INDEX events_name_received ON {s}.events (name, received_at);
        CREATE TABLE {s}.runs (
            id text PRIMARY KEY,
            function_id text NOT NULL,
            status int NOT NULL,
            input text NOT NULL,
            output text,
            error text,
            attempt int NOT NULL DEFAULT 0,
            event_id text,
            created_at bigint NOT NULL,
            started_at bigint,
            ended_at bigint);
        CREATE INDEX runs_function_created ON {s}.runs (function_id, created_at);
        CREATE INDEX runs_event ON {s}.runs (event_id) WHERE event_id IS NOT NULL;
        CREATE TABLE {s}.queue (
            run_id text PRIMARY KEY,
            function_id text NOT NULL,
            available_at bigint NOT NULL,
            owner text,
            token bigint NOT NULL DEFAULT 0) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01);
        CREATE INDEX queue_available ON {s}.queue (available_at);
        CREATE INDEX queue_owner ON {s}.queue (owner) WHERE owner IS NOT NULL;
        CREATE TABLE {s}.steps (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            run_id text NOT NULL,
            key text NOT NULL,
            kind int NOT NULL,
            status int NOT NULL,
            output text,
            error text,
            attempts int NOT NULL,
            started_at bigint NOT NULL,
            ended_at bigint,
            wake_at bigint,
            UNIQUE (run_id, key));
        CREATE TABLE {s}.functions (
            id text PRIMARY KEY,
            definition text NOT NULL,
            hash text NOT NULL,
            updated_at bigint NOT NULL);
        CREATE TABLE {s}.function_triggers (
            event_name text NOT NULL,
            function_id text NOT NULL,
            PRIMARY KEY (event_name, function_id));
        """,

        // 2: indexes for the history retention purge.
        """
        CREATE INDEX runs_ended ON {s}.runs (ended_at) WHERE ended_at IS NOT NULL;
        CREATE INDEX events_received ON {s}.events (received_at);
        """,

        // 3: durable waits for events and for child runs, cancel rules and finish deadlines, as on SQLite. match_value() is the one definition of the
        // value a match path selects (jsonb's canonical text; JSON null counts as none), used on both sides of a match.
        """
        ALTER TABLE {s}.runs ADD COLUMN parent_run_id text, ADD COLUMN parent_step text, ADD COLUMN parent_index int;
        CREATE INDEX runs_parent ON {s}.runs (parent_run_id, parent_step, parent_index) WHERE parent_run_id IS NOT NULL;
        ALTER TABLE {s}.queue ADD COLUMN woken int NOT NULL DEFAULT 0;
        CREATE TABLE {s}.waits (
            run_id text NOT NULL,
            step_key text NOT NULL,
            kind int NOT NULL,
            event_name text,
            match_path text,
            match_value text,
            condition text,
            pending int NOT NULL DEFAULT 0,
            created_at bigint NOT NULL,
            PRIMARY KEY (run_id, step_key));
        CREATE INDEX waits_event ON {s}.waits (event_name, match_path, match_value) WHERE event_name IS NOT NULL;
        CREATE INDEX waits_unmatched ON {s}.waits (event_name) WHERE event_name IS NOT NULL AND match_path IS NULL;
        CREATE TABLE {s}.wait_paths (
            event_name text NOT NULL,
            match_path text NOT NULL,
            PRIMARY KEY (event_name, match_path));
        CREATE TABLE {s}.function_cancels (
            function_id text NOT NULL,
            idx int NOT NULL,
            event_name text NOT NULL,
            match_path text,
            condition text,
            PRIMARY KEY (function_id, idx));
        ALTER TABLE {s}.queue ADD COLUMN finish_by bigint, ADD COLUMN concurrency_key text;
        CREATE INDEX queue_running ON {s}.queue (function_id, concurrency_key) WHERE owner IS NOT NULL;
        CREATE TABLE {s}.schedules (
            id text PRIMARY KEY,
            function_id text NOT NULL,
            cron text NOT NULL,
            time_zone text NOT NULL,
            missed int NOT NULL,
            next_at bigint NOT NULL);
        CREATE INDEX schedules_next ON {s}.schedules (next_at);
        CREATE TABLE {s}.idempotency (
            function_id text NOT NULL,
            key text NOT NULL,
            run_id text NOT NULL,
            expires_at bigint NOT NULL,
            PRIMARY KEY (function_id, key));
        CREATE INDEX idempotency_expires ON {s}.idempotency (expires_at);
        ALTER TABLE {s}.function_triggers ADD COLUMN condition text;
        ALTER TABLE {s}.queue ADD COLUMN singleton_key text;
        CREATE UNIQUE INDEX queue_singleton ON {s}.queue (function_id, singleton_key) WHERE singleton_key IS NOT NULL;
        ALTER TABLE {s}.queue ADD COLUMN debounce_key text, ADD COLUMN debounce_until bigint;
        CREATE UNIQUE INDEX queue_debounce ON {s}.queue (function_id, debounce_key) WHERE debounce_key IS NOT NULL;
        ALTER TABLE {s}.queue ADD COLUMN queue_name text NOT NULL DEFAULT 'default';
        CREATE TABLE {s}.paused_queues (name text PRIMARY KEY);
        ALTER TABLE {s}.queue ADD COLUMN start_by bigint;
        ALTER TABLE {s}.runs ADD COLUMN tags text;
        CREATE TABLE {s}.rate_limits (
            function_id text NOT NULL,
            key text NOT NULL,
            tat bigint NOT NULL,
            PRIMARY KEY (function_id, key));
        CREATE TABLE {s}.skipped_runs (
            event_id text NOT NULL,
            function_id text NOT NULL,
            reason text NOT NULL,
            created_at bigint NOT NULL);
        CREATE INDEX skipped_runs_event ON {s}.skipped_runs (event_id);
        CREATE INDEX skipped_runs_created ON {s}.skipped_runs (created_at);
        CREATE INDEX queue_finish_by ON {s}.queue (finish_by) WHERE finish_by IS NOT NULL;
        CREATE FUNCTION {s}.match_value(data text, path text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS $$ SELECT NULLIF((data::jsonb #> string_to_array(substr(path, 6), '.'))::text, 'null') $$;
        """,

        // 4: event batching (an open batch is a queued run holding its key until it fills or is claimed), schedules
        // created through the client (kept across starts, deduplicated by key, pausable), the queue by concurrency key
        // (a claim finds every key's oldest due runs however long other keys' backlogs are), and cheaper hot writes. A journal entry is found by (run_id, key); the index on seq was never read, and cost
        // every checkpoint an index insert. Room on the runs' pages lets a claim mark a run started without touching
        // its indexes (a HOT update: status and started_at are in no index).
        """
        ALTER TABLE {s}.steps DROP CONSTRAINT steps_pkey;
        ALTER TABLE {s}.runs SET (fillfactor = 80);
        ALTER TABLE {s}.queue ADD COLUMN batch_key text, ADD COLUMN batch_size int NOT NULL DEFAULT 1;
        CREATE UNIQUE INDEX queue_batch ON {s}.queue (function_id, batch_key) WHERE batch_key IS NOT NULL;
        ALTER TABLE {s}.schedules ADD COLUMN source text NOT NULL DEFAULT 'code', ADD COLUMN external_id text, ADD COLUMN dedup_key text,
            ADD COLUMN paused boolean NOT NULL DEFAULT false, ADD COLUMN created_at bigint NOT NULL DEFAULT 0;
        CREATE UNIQUE INDEX schedules_dedup ON {s}.schedules (dedup_key) WHERE dedup_key IS NOT NULL;
        CREATE INDEX schedules_function ON {s}.schedules (function_id);
        CREATE INDEX queue_keyed ON {s}.queue (function_id, concurrency_key, available_at) WHERE concurrency_key IS NOT NULL;
        CREATE INDEX runs_created ON {s}.runs (created_at, id);
        """,

        // 5: large values (step results and run outputs above BatonOptions.LargeValueBytes), compressed, out of the hot
        // tables: the journal or the run holds a reference, and the value is read only when it is used. Runs' live
        // progress and metadata, set by their steps.
        """
        CREATE TABLE {s}.large_values (
            id text PRIMARY KEY,
            run_id text NOT NULL,
            bytes bigint NOT NULL,
            data bytea NOT NULL,
            created_at bigint NOT NULL);
        CREATE INDEX large_values_run ON {s}.large_values (run_id);
        CREATE INDEX large_values_created ON {s}.large_values (created_at, run_id);
        ALTER TABLE {s}.runs ADD COLUMN progress text, ADD COLUMN metadata text;
        """,

        // 6: one index entry fewer per claim, the hot path's busiest write: queue_owner goes. The leased rows it indexed
        // are those of queue_running (same predicate), which serves the rare lookups by owner (a node's shutdown, the
        // list of owners) as well.
        """
        DROP INDEX {s}.queue_owner;
        """,

        // 7: a run's end may be a HOT update (no index entry written): ended_at was its only indexed column, for the
        // retention purge, which now finds old ended runs through runs_created (a run ended before the cutoff was created
        // before it). A run's end wrote an entry in every index of runs before; the claim's update was already HOT.
        """
        DROP INDEX {s}.runs_ended;
        """,
    ];

    public static int Version => Migrations.Length;

    public static async Task MigrateAsync(NpgsqlDataSource dataSource, string schema, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;

        // Serializes concurrent migrations of this schema across every node.
        command.CommandText = "SELECT pg_advisory_xact_lock(hashtext('baton-migrate:' || @schema));";
        command.Parameters.AddWithValue("schema", schema);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        command.Parameters.Clear();

        command.CommandText = $"""
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {schema}.schema_version (version int NOT NULL);
            SELECT COALESCE(MAX(version), 0) FROM {schema}.schema_version;
            """;
        var current = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        if (current > Migrations.Length)
        {
            throw new BatonException(
                $"The schema '{schema}' is at version {current}, newer than this version of Baton knows ({Migrations.Length}). Upgrade Baton, or use another schema.");
        }

        for (var version = current; version < Migrations.Length; version++)
        {
            command.CommandText = Migrations[version].Replace("{s}", schema, StringComparison.Ordinal)
                + $"\nDELETE FROM {schema}.schema_version; INSERT INTO {schema}.schema_version VALUES ({version + 1});";
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}

using Microsoft.Data.Sqlite;

namespace Baton.Sqlite;

/// <summary>Versioned migrations, tracked in <c>PRAGMA user_version</c> and applied under a write lock.</summary>
internal static class SqliteSchema
{
    private static readonly string[] Migrations =
    [
        // 1: the initial schema. The queue is the hot table: one row per unfinished run; "available_at" is both
        // the due time of a queued run and the lease expiry of a claimed one, so one index serves every claim.
        """
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            data TEXT NOT NULL,
            ts INTEGER NOT NULL,
            received_at INTEGER NOT NULL);
        CREATE INDEX events_name_received ON events(name, received_at);
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            function_id TEXT NOT NULL,
            status INTEGER NOT NULL,
            input TEXT NOT NULL,
            output TEXT,
            error TEXT,
            attempt INTEGER NOT NULL DEFAULT 0,
            event_id TEXT,
            created_at INTEGER NOT NULL,
            started_at INTEGER,
            ended_at INTEGER);
        CREATE INDEX runs_function_created ON runs(function_id, created_at);
        CREATE INDEX runs_event ON runs(event_id) WHERE event_id IS NOT NULL;
        CREATE TABLE queue (
            run_id TEXT PRIMARY KEY,
            function_id TEXT NOT NULL,
            available_at INTEGER NOT NULL,
            owner TEXT,
            token INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX queue_available ON queue(available_at);
        CREATE INDEX queue_owner ON queue(owner) WHERE owner IS NOT NULL;
        CREATE TABLE steps (
            seq INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            kind INTEGER NOT NULL,
            status INTEGER NOT NULL,
            output TEXT,
            error TEXT,
            attempts INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            wake_at INTEGER,
            UNIQUE (run_id, key));
        CREATE TABLE functions (
            id TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            hash TEXT NOT NULL,
            updated_at INTEGER NOT NULL);
        CREATE TABLE function_triggers (
            event_name TEXT NOT NULL,
            function_id TEXT NOT NULL,
            PRIMARY KEY (event_name, function_id)) WITHOUT ROWID;
        """,

        // 2: indexes for the history retention purge.
        """
        CREATE INDEX runs_ended ON runs(ended_at) WHERE ended_at IS NOT NULL;
        CREATE INDEX events_received ON events(received_at);
        """,

        // 3: durable waits for events and for child runs, functions' cancel rules, finish deadlines, concurrency keys and
        // cron schedules. "waits" is looked up by (event_name, match_path,
        // match_value), so one incoming event finds its waiters without a scan; "wait_paths" lists the match paths in
        // use per event name (a handful), so the incoming event knows which values to compute. "queue.woken" records
        // that a wait of a leased run was resolved, so its suspension makes it due at once.
        """
        ALTER TABLE runs ADD COLUMN parent_run_id TEXT;
        ALTER TABLE runs ADD COLUMN parent_step TEXT;
        ALTER TABLE runs ADD COLUMN parent_index INTEGER;
        CREATE INDEX runs_parent ON runs(parent_run_id, parent_step, parent_index) WHERE parent_run_id IS NOT NULL;
        ALTER TABLE queue ADD COLUMN woken INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE waits (
            run_id TEXT NOT NULL,
            step_key TEXT NOT NULL,
            kind INTEGER NOT NULL,
            event_name TEXT,
            match_path TEXT,
            match_value TEXT,
            condition TEXT,
            pending INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (run_id, step_key)) WITHOUT ROWID;
        CREATE INDEX waits_event ON waits(event_name, match_path, match_value) WHERE event_name IS NOT NULL;
        CREATE INDEX waits_unmatched ON waits(event_name) WHERE event_name IS NOT NULL AND match_path IS NULL;
        CREATE TABLE wait_paths (
            event_name TEXT NOT NULL,
            match_path TEXT NOT NULL,
            PRIMARY KEY (event_name, match_path)) WITHOUT ROWID;
        CREATE TABLE function_cancels (
            function_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            event_name TEXT NOT NULL,
            match_path TEXT,
            condition TEXT,
            PRIMARY KEY (function_id, idx)) WITHOUT ROWID;
        ALTER TABLE queue ADD COLUMN finish_by INTEGER;
        ALTER TABLE queue ADD COLUMN concurrency_key TEXT;
        CREATE INDEX queue_running ON queue(function_id, concurrency_key) WHERE owner IS NOT NULL;
        CREATE TABLE schedules (
            id TEXT PRIMARY KEY,
            function_id TEXT NOT NULL,
            cron TEXT NOT NULL,
            time_zone TEXT NOT NULL,
            missed INTEGER NOT NULL,
            next_at INTEGER NOT NULL);
        CREATE INDEX schedules_next ON schedules(next_at);
        CREATE TABLE idempotency (
            function_id TEXT NOT NULL,
            key TEXT NOT NULL,
            run_id TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            PRIMARY KEY (function_id, key)) WITHOUT ROWID;
        CREATE INDEX idempotency_expires ON idempotency(expires_at);
        ALTER TABLE function_triggers ADD COLUMN condition TEXT;
        ALTER TABLE queue ADD COLUMN singleton_key TEXT;
        CREATE UNIQUE INDEX queue_singleton ON queue(function_id, singleton_key) WHERE singleton_key IS NOT NULL;
        ALTER TABLE queue ADD COLUMN debounce_key TEXT;
        ALTER TABLE queue ADD COLUMN debounce_until INTEGER;
        CREATE UNIQUE INDEX queue_debounce ON queue(function_id, debounce_key) WHERE debounce_key IS NOT NULL;
        ALTER TABLE queue ADD COLUMN queue_name TEXT NOT NULL DEFAULT 'default';
        CREATE TABLE paused_queues (name TEXT PRIMARY KEY) WITHOUT ROWID;
        ALTER TABLE queue ADD COLUMN start_by INTEGER;
        ALTER TABLE runs ADD COLUMN tags TEXT;
        CREATE TABLE rate_limits (
            function_id TEXT NOT NULL,
            key TEXT NOT NULL,
            tat INTEGER NOT NULL,
            PRIMARY KEY (function_id, key)) WITHOUT ROWID;
        CREATE TABLE skipped_runs (
            event_id TEXT NOT NULL,
            function_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at INTEGER NOT NULL);
        CREATE INDEX skipped_runs_event ON skipped_runs(event_id);
        CREATE INDEX skipped_runs_created ON skipped_runs(created_at);
        CREATE INDEX queue_finish_by ON queue(finish_by) WHERE finish_by IS NOT NULL;
        """,

        // 4: event batching (an open batch is a queued run holding its key until it fills or is claimed), schedules
        // created through the client (kept across starts, deduplicated by key, pausable), and the queue by concurrency
        // key, so a claim finds every key's oldest due runs however long other keys' backlogs are.
        """
        ALTER TABLE queue ADD COLUMN batch_key TEXT;
        ALTER TABLE queue ADD COLUMN batch_size INTEGER NOT NULL DEFAULT 1;
        CREATE UNIQUE INDEX queue_batch ON queue(function_id, batch_key) WHERE batch_key IS NOT NULL;
        ALTER TABLE schedules ADD COLUMN source TEXT NOT NULL DEFAULT 'code';
        ALTER TABLE schedules ADD COLUMN external_id TEXT;
        ALTER TABLE schedules ADD COLUMN dedup_key TEXT;
        ALTER TABLE schedules ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE schedules ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
        CREATE UNIQUE INDEX schedules_dedup ON schedules(dedup_key) WHERE dedup_key IS NOT NULL;
        CREATE INDEX schedules_function ON schedules(function_id);
        CREATE INDEX queue_keyed ON queue(function_id, concurrency_key, available_at) WHERE concurrency_key IS NOT NULL;
        CREATE INDEX runs_created ON runs(created_at, id);
        """,

        // 5: large values (step results and run outputs above BatonOptions.LargeValueBytes), compressed, out of the hot
        // tables: the journal or the run holds a reference, and the value is read only when it is used. Runs' live
        // progress and metadata, set by their steps.
        """
        CREATE TABLE large_values (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            data BLOB NOT NULL,
            created_at INTEGER NOT NULL);
        CREATE INDEX large_values_run ON large_values(run_id);
        CREATE INDEX large_values_created ON large_values(created_at, run_id);
        ALTER TABLE runs ADD COLUMN progress TEXT;
        ALTER TABLE runs ADD COLUMN metadata TEXT;
        """,

        // 6: a run's end writes no index entry: ended_at was indexed only for the retention purge, which now finds old
        // ended runs through runs_created (a run ended before the cutoff was created before it).
        """
        DROP INDEX runs_ended;
        """,
    ];

    public static int Version => Migrations.Length;

    public static void Migrate(SqliteConnection connection)
    {
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode=WAL;";
            wal.ExecuteNonQuery();
        }

        using var transaction = connection.BeginTransaction(deferred: false);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        var current = Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        if (current > Migrations.Length)
        {
            throw new BatonException(
                $"The database schema is version {current}, newer than this version of Baton knows ({Migrations.Length}). Upgrade Baton, or use another database file.");
        }

        for (var version = current; version < Migrations.Length; version++)
        {
            command.CommandText = Migrations[version];
            command.ExecuteNonQuery();
            command.CommandText = $"PRAGMA user_version = {version + 1};";
            command.ExecuteNonQuery();
        }

        transaction.Commit();
    }
}

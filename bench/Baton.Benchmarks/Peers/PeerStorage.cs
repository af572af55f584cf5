namespace Baton.Benchmarks.Peers;

/// <summary>The Hangfire storages Baton is compared with.</summary>
public enum PeerStorage
{
    /// <summary>Hangfire.InMemory: writes nothing to disk.</summary>
    InMemory,

    /// <summary>Hangfire.Storage.SQLite on a file.</summary>
    Sqlite,

    /// <summary>Hangfire.PostgreSql on the benchmark's PostgreSQL server.</summary>
    PostgreSql,
}

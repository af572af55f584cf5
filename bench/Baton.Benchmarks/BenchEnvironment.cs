namespace Baton.Benchmarks;

/// <summary>What every scenario shares: a scratch directory and the benchmark's PostgreSQL server.</summary>
public sealed class BenchEnvironment(string workDirectory, string? postgresConnectionString)
{
    public string WorkDirectory { get; } = workDirectory;

    public string? PostgresConnectionString { get; } = postgresConnectionString;

    /// <summary>A fresh name for a database file or schema.</summary>
    public static string NewName(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>A measurement's own database under a fresh name, removed when it is disposed.</summary>
    public ScratchDatabase NewDatabase(BenchStorage storage, string prefix) => new(this, storage, NewName(prefix));
}

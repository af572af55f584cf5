namespace Baton.Benchmarks;

/// <summary>Where Baton keeps its state in a benchmark.</summary>
public enum BenchStorage
{
    Sqlite,
    PostgreSql,
}

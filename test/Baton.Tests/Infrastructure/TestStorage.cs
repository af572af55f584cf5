using Baton.Storage;

namespace Baton.Tests.Infrastructure;

/// <summary>
/// A storage for one test: configures a host to use it, creates raw stores on it, and reads it directly with SQL
/// (unqualified table names) to check what was and was not written. Every engine test runs on each provider.
/// </summary>
public abstract class TestStorage : IDisposable
{
    /// <summary>Points a host at this storage.</summary>
    public abstract void Configure(BatonBuilder builder);

    /// <summary>A raw storage on the same database, for contract tests and for simulating other nodes.</summary>
    public abstract IBatonStorage Create(TimeProvider time);

    /// <summary>Whether anything has been created in the database yet.</summary>
    public abstract bool Exists { get; }

    public abstract long Scalar(string sql);

    public abstract List<string[]> Rows(string sql);

    public virtual void Dispose()
    {
    }
}

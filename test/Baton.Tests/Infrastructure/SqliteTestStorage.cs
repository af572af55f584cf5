using Baton.Sqlite;
using Baton.Storage;

namespace Baton.Tests.Infrastructure;

/// <summary>A SQLite file in a temp directory.</summary>
public sealed class SqliteTestStorage : TestStorage
{
    private readonly TempDirectory _directory = new();

    public string Path => _directory.File("baton.db");

    public override bool Exists => File.Exists(Path);

    public override void Configure(BatonBuilder builder) => builder.UseSqlite(Path);

    public override IBatonStorage Create(TimeProvider time) => new SqliteStorage(Path, new SqliteOptions(), time);

    public override long Scalar(string sql) => Db.Scalar(Path, sql);

    public override List<string[]> Rows(string sql) => Db.Rows(Path, sql);

    public override void Dispose() => _directory.Dispose();

    public override string ToString() => "SQLite " + Path;
}

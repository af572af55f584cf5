using Microsoft.Data.Sqlite;

namespace Baton.Sqlite;

/// <summary>Compact parameter binding.</summary>
internal static class SqliteCommandExtensions
{
    public static SqliteCommand With(this SqliteCommand command, string name, object? value)
    {
        command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    public static SqliteCommand WithLease(this SqliteCommand command, Baton.Storage.RunLease lease) =>
        command.With("@run", lease.RunId).With("@owner", lease.Owner).With("@token", lease.Token);
}

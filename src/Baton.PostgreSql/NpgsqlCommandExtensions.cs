using Npgsql;

namespace Baton.PostgreSql;

/// <summary>Compact parameter binding for reads.</summary>
internal static class NpgsqlCommandExtensions
{
    /// <summary>Adds a parameter typed by <typeparamref name="T"/>, so that a null still has a type for PostgreSQL.</summary>
    public static NpgsqlCommand With<T>(this NpgsqlCommand command, string name, T value)
    {
        command.Parameters.Add(new NpgsqlParameter<T>(name, value));
        return command;
    }
}

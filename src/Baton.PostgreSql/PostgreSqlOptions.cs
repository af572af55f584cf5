using System.Text.RegularExpressions;

namespace Baton.PostgreSql;

/// <summary>Settings of the PostgreSQL provider.</summary>
public sealed partial class PostgreSqlOptions
{
    /// <summary>The schema Baton creates and uses. Several Baton deployments can share a database under different schemas. Default: <c>baton</c>.</summary>
    public string Schema { get; set; } = "baton";

    /// <summary>The most writes (checkpoints, claims, events) grouped into one transaction. Default: 1024.</summary>
    public int MaxBatchSize { get; set; } = 1024;

    /// <summary>How long to wait before reconnecting the LISTEN connection after it broke. Default: 1 s.</summary>
    public TimeSpan ListenReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    internal IEnumerable<string> Validate()
    {
        if (string.IsNullOrEmpty(Schema) || !SchemaPattern().IsMatch(Schema))
        {
            yield return $"PostgreSqlOptions.Schema '{Schema}' is invalid; use 1-50 lowercase letters, digits or '_', starting with a letter";
        }

        if (MaxBatchSize < 1)
        {
            yield return $"PostgreSqlOptions.MaxBatchSize is {MaxBatchSize}; it must be at least 1";
        }

        if (ListenReconnectDelay <= TimeSpan.Zero)
        {
            yield return $"PostgreSqlOptions.ListenReconnectDelay is {ListenReconnectDelay}; it must be positive";
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9_]{0,49}$")]
    private static partial Regex SchemaPattern();
}

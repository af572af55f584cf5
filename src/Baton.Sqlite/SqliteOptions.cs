namespace Baton.Sqlite;

/// <summary>Settings of the SQLite provider.</summary>
public sealed class SqliteOptions
{
    /// <summary>The database file. A relative path is taken from the app's content root. Default: <c>baton.db</c>.</summary>
    public string Path { get; set; } = "baton.db";

    /// <summary>What a commit survives. Default: <see cref="SqliteDurability.ProcessCrash"/>.</summary>
    public SqliteDurability Durability { get; set; } = SqliteDurability.ProcessCrash;

    /// <summary>The most writes (checkpoints, claims, events) grouped into one transaction. Default: 1024.</summary>
    public int MaxBatchSize { get; set; } = 1024;

    /// <summary>How long a statement waits for another process's lock before failing. Default: 10 s.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often a worker checks whether another process (or connection) committed to the file, to look for work at once
    /// rather than at its next poll (<see cref="BatonOptions.PollInterval"/>); null turns it off. A check reads a counter
    /// in shared memory. Default: 25 ms.
    /// </summary>
    public TimeSpan? ChangePollInterval { get; set; } = TimeSpan.FromMilliseconds(25);

    internal IEnumerable<string> Validate()
    {
        if (ChangePollInterval is { } change && change <= TimeSpan.Zero)
        {
            yield return $"SqliteOptions.ChangePollInterval is {change}; it must be positive, or null to turn it off";
        }

        if (string.IsNullOrWhiteSpace(Path))
        {
            yield return "SqliteOptions.Path is empty; give a file name such as 'baton.db'";
        }

        if (MaxBatchSize < 1)
        {
            yield return $"SqliteOptions.MaxBatchSize is {MaxBatchSize}; it must be at least 1";
        }

        if (BusyTimeout < TimeSpan.Zero)
        {
            yield return $"SqliteOptions.BusyTimeout is {BusyTimeout}; it must not be negative";
        }

        if (!Enum.IsDefined(Durability))
        {
            yield return $"SqliteOptions.Durability is {Durability}; use ProcessCrash or PowerLoss";
        }
    }
}

namespace Baton.Sqlite;

/// <summary>What a committed write survives.</summary>
public enum SqliteDurability
{
    /// <summary>
    /// A crash of the process (the default): WAL with <c>synchronous=NORMAL</c>. A power loss or OS crash may lose the
    /// last commits, never the database's consistency.
    /// </summary>
    ProcessCrash = 0,

    /// <summary>A power loss too: <c>synchronous=FULL</c>, one fsync per group commit.</summary>
    PowerLoss = 1,
}

namespace Baton;

/// <summary>Which runs to list: newest first, filtered, a page at a time.</summary>
public sealed record RunQuery
{
    /// <summary>Only runs of this function.</summary>
    public string? FunctionId { get; init; }

    /// <summary>Only runs in this status.</summary>
    public RunStatus? Status { get; init; }

    /// <summary>Only runs that carry this tag.</summary>
    public string? Tag { get; init; }

    /// <summary>Only runs started by this event.</summary>
    public string? EventId { get; init; }

    /// <summary>Only runs created at or after this moment.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Only runs created before this moment.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>How many runs a page holds (1 to 1,000). Default: 50.</summary>
    public int Limit { get; init; } = 50;

    /// <summary>Where the page starts: the <see cref="RunPage.NextCursor"/> of the previous page; null for the first.</summary>
    public string? Cursor { get; init; }
}

/// <summary>A page of runs (without their steps), newest first, and the cursor of the next page (null: no more).</summary>
public sealed record RunPage(IReadOnlyList<RunInfo> Runs, string? NextCursor);

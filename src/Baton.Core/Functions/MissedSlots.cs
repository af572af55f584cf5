namespace Baton;

/// <summary>What a cron schedule does with slots that passed while no node was running (more than a minute ago).</summary>
public enum MissedSlots
{
    /// <summary>Nothing: the schedule goes on from the next slot.</summary>
    Skip = 0,

    /// <summary>One run for the latest missed slot, then the schedule goes on from the next slot.</summary>
    CatchUpOne = 1,
}

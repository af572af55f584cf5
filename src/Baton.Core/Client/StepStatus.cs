namespace Baton;

/// <summary>The state of one step in a run's journal.</summary>
public enum StepStatus
{
    /// <summary>The step's result is committed; it never runs again.</summary>
    Completed = 0,

    /// <summary>The step failed for good (retries exhausted or non-retriable).</summary>
    Failed = 1,

    /// <summary>An attempt failed and another is scheduled.</summary>
    Retrying = 2,

    /// <summary>A durable wait (a sleep, an event, children) that has not ended yet.</summary>
    Waiting = 3,
}

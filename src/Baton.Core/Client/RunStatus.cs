namespace Baton;

/// <summary>Where a run is in its life.</summary>
public enum RunStatus
{
    /// <summary>Created and waiting for a worker (also while it waits to retry after an error).</summary>
    Queued = 0,

    /// <summary>A worker holds it and is executing it.</summary>
    Running = 1,

    /// <summary>Suspended on a durable wait (a sleep); it holds no worker slot and no memory.</summary>
    Waiting = 2,

    /// <summary>Finished with an output.</summary>
    Completed = 3,

    /// <summary>Finished with an error after its retries.</summary>
    Failed = 4,

    /// <summary>Cancelled before it finished (by a client, a parent, or a cancel rule); the error says by whom.</summary>
    Cancelled = 5,

    /// <summary>Suspended until a matching event arrives or its wait times out; it holds no worker slot and no memory.</summary>
    WaitingForEvent = 6,

    /// <summary>Suspended until the child runs it invoked have ended.</summary>
    WaitingForChildren = 7,

    /// <summary>Not started within its start timeout; it never ran.</summary>
    Expired = 8,

    /// <summary>Cancelled because it did not finish within its finish timeout.</summary>
    TimedOut = 9,
}

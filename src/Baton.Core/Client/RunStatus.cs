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

    /// <summary>Cancelled before it finished.</summary>
    Cancelled = 5,
}

namespace Baton.Engine;

/// <summary>Why an execution stops starting new steps. Later values take precedence.</summary>
internal enum HaltReason
{
    None = 0,

    /// <summary>A step must wait longer than the hot-wait limit: suspend the run until the earliest wake-up.</summary>
    Suspend = 1,

    /// <summary>The node is shutting down: let in-flight steps finish, then release the run.</summary>
    Shutdown = 2,

    /// <summary>The lease was lost or storage failed: write nothing more; another execution owns the run.</summary>
    Abort = 3,
}

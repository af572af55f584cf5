namespace Baton.Storage;

/// <summary>What a durable wait of a run is for.</summary>
public enum WaitKind
{
    /// <summary><c>Step.WaitForEvent</c>: resolved by the first matching event, with that event.</summary>
    Event = 0,

    /// <summary><c>Step.Invoke</c>: resolved when the one child run ends, with its output or error.</summary>
    Invoke = 1,

    /// <summary><c>Step.BatchInvoke</c>: resolved when the last of its child runs ends.</summary>
    BatchInvoke = 2,

    /// <summary>A function's cancel rule, created with each run: a matching event cancels the run.</summary>
    Cancel = 3,
}

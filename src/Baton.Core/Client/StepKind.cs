namespace Baton;

/// <summary>What a journal entry records.</summary>
public enum StepKind
{
    /// <summary><c>Step.Run</c>: a memoized body.</summary>
    Run = 0,

    /// <summary><c>Step.Sleep</c> or <c>Step.SleepUntil</c>: a durable timer.</summary>
    Sleep = 1,

    /// <summary><c>Step.SendEvent</c>: a memoized event send.</summary>
    SendEvent = 2,

    /// <summary><c>Step.WaitForEvent</c>: a durable wait for a matching event, with a timeout.</summary>
    WaitForEvent = 3,

    /// <summary><c>Step.Invoke</c>: a child run, waited for.</summary>
    Invoke = 4,

    /// <summary><c>Step.BatchInvoke</c>: many child runs, waited for together.</summary>
    BatchInvoke = 5,
}

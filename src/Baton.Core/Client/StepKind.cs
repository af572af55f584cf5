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
}

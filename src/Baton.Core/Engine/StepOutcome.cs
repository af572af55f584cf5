using System.Runtime.ExceptionServices;

namespace Baton.Engine;

/// <summary>How a step call ends in this execution: a value, an exception for user code, or a halt (never returns).</summary>
internal readonly record struct StepOutcome<T>(bool Halted, T Value, ExceptionDispatchInfo? Exception)
{
    public static StepOutcome<T> Halt => new(true, default!, null);

    public static StepOutcome<T> Of(T value) => new(false, value, null);

    public static StepOutcome<T> Throw(Exception exception) => new(false, default!, ExceptionDispatchInfo.Capture(exception));
}

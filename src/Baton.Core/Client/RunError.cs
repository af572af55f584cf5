namespace Baton;

/// <summary>An error recorded for a run or a step: the exception type, its message and its stack trace.</summary>
/// <param name="Type">The exception's type name, such as <c>System.TimeoutException</c>.</param>
/// <param name="Message">The exception's message.</param>
/// <param name="StackTrace">The stack trace, when there was one.</param>
public sealed record RunError(string Type, string Message, string? StackTrace = null)
{
    /// <summary>Records an exception, unwrapping the <see cref="StepFailedException"/> Baton throws into functions.</summary>
    public static RunError From(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return new RunError(exception.GetType().FullName ?? exception.GetType().Name, exception.Message, exception.StackTrace);
    }
}

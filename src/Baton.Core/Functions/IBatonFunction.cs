namespace Baton;

/// <summary>A function written as a class, constructed from DI for each run, that returns nothing.</summary>
/// <typeparam name="TEvent">The type of the triggering event's payload.</typeparam>
public interface IBatonFunction<TEvent>
{
    /// <summary>The function body. Put side effects in <c>context.Step.Run</c>; code outside steps must be deterministic.</summary>
    Task RunAsync(FunctionContext<TEvent> context);
}

/// <summary>A function written as a class, constructed from DI for each run, whose return value is the run's output.</summary>
/// <typeparam name="TEvent">The type of the triggering event's payload.</typeparam>
/// <typeparam name="TResult">The output type; it must serialize to JSON.</typeparam>
public interface IBatonFunction<TEvent, TResult>
{
    /// <summary>The function body. Put side effects in <c>context.Step.Run</c>; code outside steps must be deterministic.</summary>
    Task<TResult> RunAsync(FunctionContext<TEvent> context);
}

/// <summary>Implement on a function class to handle its final failure durably (see <see cref="FunctionOptions.OnFailure"/>).</summary>
public interface IBatonFailureHandler
{
    /// <summary>Called in a run of its own after a run of the function has failed for good.</summary>
    Task OnFailureAsync(FailureContext context);
}

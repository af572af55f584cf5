namespace Baton;

/// <summary>The outcome of one item of <c>Step.BatchInvoke</c>: the child run's output, or its error.</summary>
/// <typeparam name="T">The child function's output type.</typeparam>
public sealed class BatchItemResult<T>
{
    /// <summary>The item's position in the payloads given to <c>BatchInvoke</c>.</summary>
    public required int Index { get; init; }

    /// <summary>The child run.</summary>
    public required string RunId { get; init; }

    /// <summary>How the child run ended: completed, failed, cancelled, ...</summary>
    public required RunStatus Status { get; init; }

    /// <summary>True when the child completed; then <see cref="Output"/> holds its result.</summary>
    public bool Succeeded => Status == RunStatus.Completed;

    /// <summary>The child's output, when it completed.</summary>
    public T? Output { get; init; }

    /// <summary>The child's error, when it did not complete.</summary>
    public RunError? Error { get; init; }
}

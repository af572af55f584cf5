namespace Baton;

/// <summary>
/// Thrown when a replayed function asks for a step that its journal recorded as another kind of step, which means the
/// code changed under a run in flight (or depends on something that is not deterministic). The run fails.
/// </summary>
public sealed class NonDeterminismException : NonRetriableException
{
    /// <summary>Creates the exception.</summary>
    public NonDeterminismException(string message)
        : base(message)
    {
    }
}

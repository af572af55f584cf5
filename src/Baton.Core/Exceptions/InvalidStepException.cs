namespace Baton;

/// <summary>
/// Thrown when a step is called with arguments it cannot work with (an invalid event name or match path, a batch of no
/// items or of too many). Retrying cannot fix it, so the run fails at once unless the function catches it.
/// </summary>
public sealed class InvalidStepException : BatonException
{
    /// <summary>Creates the exception.</summary>
    public InvalidStepException(string message)
        : base(message)
    {
    }
}

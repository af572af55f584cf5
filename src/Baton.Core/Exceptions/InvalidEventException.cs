namespace Baton;

/// <summary>Thrown when an event cannot be accepted: no name, a reserved name, or a payload that is not serializable.</summary>
public sealed class InvalidEventException : BatonException
{
    /// <summary>Creates the exception.</summary>
    public InvalidEventException(string message, Exception? innerException = null)
        : base(message, innerException!)
    {
    }
}

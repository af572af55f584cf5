namespace Baton;

/// <summary>The base of the exceptions Baton throws for problems it can explain.</summary>
public class BatonException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BatonException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public BatonException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public BatonException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

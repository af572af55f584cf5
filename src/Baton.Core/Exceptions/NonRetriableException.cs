namespace Baton;

/// <summary>Throw from a step or a function to fail at once, without retries.</summary>
public class NonRetriableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NonRetriableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NonRetriableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public NonRetriableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

namespace Baton;

/// <summary>Thrown when an event or trigger payload is larger than the configured limit. Nothing is written.</summary>
public sealed class PayloadTooLargeException : BatonException
{
    /// <summary>Creates the exception.</summary>
    public PayloadTooLargeException(string what, long sizeBytes, long limitBytes)
        : base($"{what} is {sizeBytes} bytes, over the limit of {limitBytes} bytes (BatonOptions.MaxEventBytes). " +
               "Store large content elsewhere and send a reference to it.")
    {
        SizeBytes = sizeBytes;
        LimitBytes = limitBytes;
    }

    /// <summary>The size of the payload that was refused.</summary>
    public long SizeBytes { get; }

    /// <summary>The limit in force.</summary>
    public long LimitBytes { get; }
}

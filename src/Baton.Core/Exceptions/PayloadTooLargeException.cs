namespace Baton;

/// <summary>Thrown when an event or trigger payload, or a step result or run output, is larger than its limit. Nothing of it is written.</summary>
public sealed class PayloadTooLargeException : BatonException
{
    /// <summary>Creates the exception for an event or trigger payload (the limit is <see cref="BatonOptions.MaxEventBytes"/>).</summary>
    public PayloadTooLargeException(string what, long sizeBytes, long limitBytes)
        : this(what, sizeBytes, limitBytes, "BatonOptions.MaxEventBytes", "Store large content elsewhere and send a reference to it.")
    {
    }

    /// <summary>Creates the exception, naming the setting that holds the limit and what to do.</summary>
    public PayloadTooLargeException(string what, long sizeBytes, long limitBytes, string setting, string advice)
        : base(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{what} is {sizeBytes:N0} bytes, over the limit of {limitBytes:N0} bytes ({setting}). {advice}"))
    {
        SizeBytes = sizeBytes;
        LimitBytes = limitBytes;
    }

    /// <summary>The size of the payload that was refused.</summary>
    public long SizeBytes { get; }

    /// <summary>The limit in force.</summary>
    public long LimitBytes { get; }
}

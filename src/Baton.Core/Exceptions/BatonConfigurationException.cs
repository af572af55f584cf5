namespace Baton;

/// <summary>Thrown at registration or start-up when Baton's configuration is invalid; lists every problem at once.</summary>
public sealed class BatonConfigurationException : BatonException
{
    /// <summary>Creates the exception from a list of problems.</summary>
    public BatonConfigurationException(IReadOnlyList<string> problems)
        : base("Baton's configuration is invalid:" + string.Concat((problems ?? []).Select(p => Environment.NewLine + " - " + p)))
    {
        Problems = problems ?? [];
    }

    /// <summary>Each problem, with what to change.</summary>
    public IReadOnlyList<string> Problems { get; }
}

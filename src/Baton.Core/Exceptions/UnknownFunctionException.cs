namespace Baton;

/// <summary>Thrown when a call names a function id that is not registered.</summary>
public sealed class UnknownFunctionException : BatonException
{
    /// <summary>Creates the exception.</summary>
    public UnknownFunctionException(string functionId, IEnumerable<string> knownIds)
        : base($"No function has the id '{functionId}'. Registered functions: {Describe(knownIds)}.")
    {
        FunctionId = functionId;
        KnownIds = [.. knownIds.Order(StringComparer.Ordinal)];
    }

    /// <summary>The id that was asked for.</summary>
    public string FunctionId { get; }

    /// <summary>The ids that are registered.</summary>
    public IReadOnlyList<string> KnownIds { get; }

    private static string Describe(IEnumerable<string> ids)
    {
        var list = ids.Order(StringComparer.Ordinal).ToList();
        return list.Count == 0 ? "none (add one with AddBaton(b => b.AddFunction(...)))" : string.Join(", ", list);
    }
}

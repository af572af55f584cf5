namespace Baton;

/// <summary>Thrown when an expression (a wait's <c>if</c>, a <c>match</c> path, a rule's condition) is invalid.</summary>
public sealed class BatonExpressionException : BatonException
{
    /// <summary>Creates the exception.</summary>
    public BatonExpressionException(string what, string expression, string problem, int? column = null)
        : base(column is { } c
            ? $"{what}: the expression '{expression}' is invalid at column {c}: {problem}"
            : $"{what}: the expression '{expression}' is invalid: {problem}")
    {
        Expression = expression;
        Column = column;
    }

    /// <summary>The expression as given.</summary>
    public string Expression { get; }

    /// <summary>The 1-based column of the error, when the parser reported one.</summary>
    public int? Column { get; }
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cel;

namespace Baton.Expressions;

/// <summary>
/// A compiled expression of the Common Expression Language (CEL, the language Inngest uses for the same purpose), over
/// JSON values: <c>event</c> (a run's triggering event) and <c>async</c> (an incoming event), each
/// <c>{id, name, data, ts}</c>. Compiled once per distinct text and cached.
/// </summary>
internal sealed partial class CelExpression
{
    private const int MaxCached = 4096;
    private static readonly CelEnvironment Environment = new(null, null);
    private static readonly Lock CompileGate = new();
    private static readonly ConcurrentDictionary<string, CelExpression> Cache = new(StringComparer.Ordinal);
    private readonly CelProgramDelegate _program;

    private CelExpression(string text, CelProgramDelegate program)
    {
        Text = text;
        _program = program;
    }

    public string Text { get; }

    /// <summary>Compiles (or takes from the cache) an expression; <paramref name="what"/> names it in errors.</summary>
    /// <exception cref="BatonExpressionException">The expression does not parse, or uses names other than <c>event</c> and <c>async</c>.</exception>
    public static CelExpression Compile(string text, string what)
    {
        if (Cache.TryGetValue(text, out var cached))
        {
            return cached;
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            throw new BatonExpressionException(what, text ?? "", "it is empty");
        }

        CelProgramDelegate program;
        try
        {
            lock (CompileGate)
            {
                program = Environment.Compile(text);
            }
        }
        catch (CelExpressionParserException ex)
        {
            var position = ParserPosition().Match(ex.Message);
            var column = position.Success ? int.Parse(position.Groups[1].Value, CultureInfo.InvariantCulture) + 1 : (int?)null;
            var message = position.Success ? ex.Message[position.Length..].Trim() : ex.Message;
            throw new BatonExpressionException(what, text, message, column);
        }
        catch (CelException ex)
        {
            throw new BatonExpressionException(what, text, ex.Message);
        }

        var expression = new CelExpression(text, program);

        // Unknown functions and variables only show when evaluated: try once on empty events to report them now.
        try
        {
            expression._program.Invoke(Variables(EmptyEvent, EmptyEvent));
        }
        catch (Exception ex) when (ex is CelUnboundFunctionException or CelUndeclaredReferenceException)
        {
            throw new BatonExpressionException(what, text, ex.Message + " Expressions see two variables: 'event' (the run's trigger) and 'async' (the incoming event).");
        }
        catch (CelException)
        {
            // Missing fields and type errors on empty events are expected; real events decide.
        }

        if (Cache.Count >= MaxCached)
        {
            Cache.Clear();
        }

        Cache[text] = expression;
        return expression;
    }

    /// <summary>True when the expression evaluates to <c>true</c>; a missing field or a type error counts as false.</summary>
    public bool IsTrue(JsonElement trigger, JsonElement incoming)
    {
        try
        {
            return _program.Invoke(Variables(ToValue(trigger), ToValue(incoming))) is true;
        }
        catch (CelException)
        {
            return false;
        }
    }

    /// <summary>
    /// The expression's value for a run's trigger (<c>event</c>), as text: a string as it is, a number or boolean in
    /// invariant form; null when the value is null or a field is missing.
    /// </summary>
    public string? KeyFor(JsonElement trigger)
    {
        object? value;
        try
        {
            value = _program.Invoke(Variables(ToValue(trigger), EmptyEvent));
        }
        catch (CelException)
        {
            return null;
        }

        return value switch
        {
            null => null,
            string text => text,
            bool flag => flag ? "true" : "false",
            IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
            _ => value.GetType().Name == "CelNoSuchField" ? null : value.ToString(),
        };
    }

    private static readonly Dictionary<string, object?> EmptyEvent = new(StringComparer.Ordinal);

    private static Dictionary<string, object?> Variables(object? trigger, object? incoming) =>
        new(StringComparer.Ordinal) { ["event"] = trigger, ["async"] = incoming };

    /// <summary>JSON as CEL values: maps, lists, strings, int64 for integral numbers, doubles, booleans, null.</summary>
    private static object? ToValue(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().ToDictionary(p => p.Name, p => ToValue(p.Value), StringComparer.Ordinal),
        JsonValueKind.Array => element.EnumerateArray().Select(ToValue).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out var l) ? l : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    [GeneratedRegex(@"^Line \d+:(\d+)")]
    private static partial Regex ParserPosition();
}

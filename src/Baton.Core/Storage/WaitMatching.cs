using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Baton.Engine;
using Baton.Expressions;

namespace Baton.Storage;

/// <summary>
/// Decides which waits incoming events resolve, the same way for every provider: a provider finds the candidates (by
/// event name and match value, through its index) and this checks their conditions and picks, for each wait, the first
/// event that satisfies it.
/// </summary>
internal static partial class WaitMatching
{
    /// <summary>Whether <paramref name="path"/> is a match path: <c>data</c> followed by one or more field names.</summary>
    public static bool IsValidMatchPath(string? path) => path is not null && MatchPathPattern().IsMatch(path);

    /// <summary>The field names of a match path after <c>data</c>.</summary>
    public static string[] DataSegments(string path) => path.Split('.')[1..];

    /// <summary>
    /// The canonical text of the value at <paramref name="path"/> in an event's <paramref name="data"/>, or null when
    /// there is none (then the wait matches nothing by path). Strings keep their JSON quotes, so <c>"1"</c> and <c>1</c>
    /// differ; integral numbers are written without a fraction, so <c>1</c> and <c>1.0</c> agree.
    /// </summary>
    public static string? MatchValue(JsonElement data, string path)
    {
        var current = data;
        foreach (var segment in DataSegments(path))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(segment, out current))
            {
                return null;
            }
        }

        return current.ValueKind switch
        {
            JsonValueKind.String => JsonSerializer.Serialize(current.GetString()),
            JsonValueKind.Number when current.TryGetDecimal(out var d) => (d == decimal.Truncate(d) ? decimal.Truncate(d) : d).ToString(CultureInfo.InvariantCulture),
            JsonValueKind.Number => current.GetDouble().ToString("R", CultureInfo.InvariantCulture),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => current.GetRawText(),
        };
    }

    /// <summary>The match value of an event whose payload is the JSON text <paramref name="dataJson"/>.</summary>
    public static string? MatchValue(string dataJson, string path)
    {
        using var document = JsonDocument.Parse(dataJson);
        return MatchValue(document.RootElement, path);
    }

    /// <summary>
    /// For each wait among <paramref name="candidates"/>, the first of <paramref name="events"/> (in order) that satisfies
    /// its condition. A wait is resolved at most once.
    /// </summary>
    public static List<(WaitCandidate Wait, EventRecord Event)> Choose(IReadOnlyList<EventRecord> events, IReadOnlyList<WaitCandidate> candidates)
    {
        var chosen = new List<(WaitCandidate, EventRecord)>();
        if (candidates.Count == 0)
        {
            return chosen;
        }

        var incoming = new Dictionary<int, JsonElement>();
        foreach (var wait in candidates.GroupBy(c => (c.RunId, c.StepKey)))
        {
            foreach (var candidate in wait.OrderBy(c => c.EventIndex))
            {
                var record = events[candidate.EventIndex];
                if (candidate.Condition is { } condition && !Satisfies(condition, candidate.TriggerInputJson, record, incoming, candidate.EventIndex))
                {
                    continue;
                }

                chosen.Add((candidate, record));
                break;
            }
        }

        return chosen;
    }

    /// <summary>
    /// The JSON a resolved wait records as its step's result: the event as <c>{id, name, data, ts}</c>. When the event's
    /// data is stored out of line, the result refers to a copy for the waiting run (which may outlive the event): storage
    /// copies value <c>CopyFrom</c> to <c>CopyTo</c>, owned by that run, with the result.
    /// </summary>
    public static (string Output, string? CopyFrom, string? CopyTo) Result(EventRecord record)
    {
        if (LargeEventData.TryParse(record.StoredDataJson, out var source, out var bytes))
        {
            var copy = Guid.NewGuid().ToString("N");
            return (EventJson.ToObject(record with { DataJson = LargeEventData.Reference(copy, bytes) }), source, copy);
        }

        return (EventJson.ToObject(record), null, null);
    }

    private static bool Satisfies(string condition, string? triggerInputJson, EventRecord record, Dictionary<int, JsonElement> incoming, int index)
    {
        CelExpression expression;
        try
        {
            expression = CelExpression.Compile(condition, "wait condition");
        }
        catch (BatonExpressionException)
        {
            // Conditions are checked when the wait is created; one that no longer compiles matches nothing.
            return false;
        }

        if (!incoming.TryGetValue(index, out var candidate))
        {
            candidate = JsonDocument.Parse(EventJson.ToObject(record)).RootElement;
            incoming[index] = candidate;
        }

        var trigger = triggerInputJson is null ? default : JsonDocument.Parse(triggerInputJson).RootElement[0];
        return expression.IsTrue(trigger, candidate);
    }

    [GeneratedRegex(@"^data(\.[A-Za-z_$][A-Za-z0-9_$-]{0,127}){1,16}$")]
    private static partial Regex MatchPathPattern();
}

using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Baton.Storage;

/// <summary>
/// An event whose data is larger than <see cref="BatonOptions.LargeValueBytes"/> is stored (in the events table, in a run's
/// input and in the result of a wait it resolved) with its data replaced by a reference object,
/// <c>{"\u0001baton-large-value":"&lt;id&gt;:&lt;bytes&gt;"}</c>, to a value in <c>large_values</c>. The text around it stays
/// valid JSON, so batch appends and match paths on other events work unchanged. Only an event's whole <c>data</c> is ever
/// replaced, and the engine refuses a payload that is itself such an object, so a reference is never user data.
/// </summary>
internal static class LargeEventData
{
    /// <summary>The reference object's one property name.</summary>
    public const string Key = "\u0001baton-large-value";

    /// <summary>The property name as it appears in JSON text (a control character is always written escaped).</summary>
    public const string EscapedKey = "\\u0001baton-large-value";

    /// <summary>The start of a reference object's JSON text (for a SQL <c>LIKE</c> on stored event data).</summary>
    public const string ReferencePrefix = "{\"" + EscapedKey + "\":";

    /// <summary>
    /// How many events stored out of line a look-back reads back at most (the oldest in its window): SQL cannot narrow
    /// them by match value, so each is read and matched in .NET.
    /// </summary>
    public const int MaxLookbackReads = 1000;

    public static string Reference(string id, long bytes) =>
        $"{ReferencePrefix}\"{id}:{bytes.ToString(CultureInfo.InvariantCulture)}\"}}";

    /// <summary>Whether <paramref name="json"/> may hold a reference (false means it certainly holds none).</summary>
    public static bool MayRefer(string? json) => json is not null && json.Contains(EscapedKey, StringComparison.Ordinal);

    /// <summary>The value id and size <paramref name="data"/> refers to, when it is a reference object.</summary>
    public static bool TryParse(JsonElement data, out string id, out long bytes)
    {
        id = "";
        bytes = 0;
        if (data.ValueKind != JsonValueKind.Object || !data.TryGetProperty(Key, out var value) || value.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        var text = value.GetString()!;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !long.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out bytes))
        {
            return false;
        }

        id = text[..colon];
        return true;
    }

    /// <summary>The value id and size of stored event data (the <c>data</c> column, or an event's <c>data</c>).</summary>
    public static bool TryParse(string? dataJson, out string id, out long bytes)
    {
        id = "";
        bytes = 0;
        if (dataJson is null || !dataJson.StartsWith(ReferencePrefix, StringComparison.Ordinal))
        {
            return false;
        }

        using var document = JsonDocument.Parse(dataJson);
        return TryParse(document.RootElement, out id, out bytes);
    }

    /// <summary>Whether a user's payload is a reference object, which Baton reserves.</summary>
    public static bool IsReserved(string payloadJson)
    {
        if (!payloadJson.Contains("\\u0001", StringComparison.Ordinal))
        {
            return false;
        }

        using var document = JsonDocument.Parse(payloadJson);
        return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(Key, out _);
    }

    /// <summary>The values (id and size) the events in <paramref name="json"/> (an input array, or one event object) refer to.</summary>
    public static IReadOnlyList<(string Id, long Bytes)> References(string json)
    {
        if (!MayRefer(json))
        {
            return [];
        }

        using var document = JsonDocument.Parse(json);
        var ids = new List<(string, long)>();
        foreach (var e in Events(document.RootElement))
        {
            if (e.TryGetProperty("data", out var data) && TryParse(data, out var id, out var bytes))
            {
                ids.Add((id, bytes));
            }
        }

        return ids;
    }

    /// <summary>
    /// <paramref name="json"/> (an input array, or one event object) with each event's <c>data</c> that is a reference
    /// replaced by what <paramref name="replace"/> gives for the value's id and size: the value itself, another
    /// reference, or null to write <c>"data": null</c> and <c>"dataBytes"</c> (a summary).
    /// </summary>
    public static string Rewrite(string json, Func<string, long, string?> replace)
    {
        if (!MayRefer(json))
        {
            return json;
        }

        using var document = JsonDocument.Parse(json);
        var buffer = new ArrayBufferWriter<byte>(json.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (document.RootElement.ValueKind == JsonValueKind.Array)
            {
                writer.WriteStartArray();
                foreach (var e in document.RootElement.EnumerateArray())
                {
                    WriteEvent(writer, e, replace);
                }

                writer.WriteEndArray();
            }
            else
            {
                WriteEvent(writer, document.RootElement, replace);
            }
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static IEnumerable<JsonElement> Events(JsonElement root) =>
        root.ValueKind == JsonValueKind.Array ? root.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Object)
        : root.ValueKind == JsonValueKind.Object ? [root]
        : [];

    private static void WriteEvent(Utf8JsonWriter writer, JsonElement e, Func<string, long, string?> replace)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            e.WriteTo(writer);
            return;
        }

        writer.WriteStartObject();
        foreach (var property in e.EnumerateObject())
        {
            if (property.NameEquals("data") && TryParse(property.Value, out var id, out var bytes))
            {
                if (replace(id, bytes) is { } value)
                {
                    writer.WritePropertyName("data");
                    writer.WriteRawValue(value, skipInputValidation: true);
                }
                else
                {
                    writer.WriteNull("data");
                    writer.WriteNumber("dataBytes", bytes);
                }
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }
}

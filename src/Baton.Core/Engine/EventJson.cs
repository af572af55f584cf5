using System.Buffers;
using System.Text.Json;
using Baton.Storage;

namespace Baton.Engine;

/// <summary>The stored shape of events in run input: a JSON array of <c>{id, name, data, ts}</c>.</summary>
internal static class EventJson
{
    public static string ToInput(EventRecord record) => ToInput([record]);

    public static string ToInput(IReadOnlyList<EventRecord> records)
    {
        var buffer = new ArrayBufferWriter<byte>(records.Sum(r => r.DataJson.Length) + (128 * records.Count));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var record in records)
            {
                WriteEvent(writer, record);
            }

            writer.WriteEndArray();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>One event as a JSON object <c>{id, name, data, ts}</c>.</summary>
    public static string ToObject(EventRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>(record.DataJson.Length + 128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteEvent(writer, record);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static void WriteEvent(Utf8JsonWriter writer, EventRecord record)
    {
        writer.WriteStartObject();
        writer.WriteString("id", record.Id);
        writer.WriteString("name", record.Name);
        writer.WritePropertyName("data");
        writer.WriteRawValue(record.DataJson, skipInputValidation: true);
        writer.WriteNumber("ts", record.Timestamp.ToUnixTimeMilliseconds());
        writer.WriteEndObject();
    }

    /// <summary>Reads every event of a run's input (a batch run has several), in order.</summary>
    public static IReadOnlyList<(string Id, string Name, DateTimeOffset Timestamp, JsonElement Data, JsonElement Event)> ReadAll(string inputJson)
    {
        using var document = JsonDocument.Parse(inputJson);
        return [.. document.RootElement.EnumerateArray().Select(e => e.Clone()).Select(e => (
            e.GetProperty("id").GetString()!,
            e.GetProperty("name").GetString()!,
            DateTimeOffset.FromUnixTimeMilliseconds(e.GetProperty("ts").GetInt64()),
            e.GetProperty("data"),
            e))];
    }
}

using System.Data.Common;
using System.Text.Json;

namespace Baton.Storage;

/// <summary>The columns of a run as both providers store them, and how a row of them reads back.</summary>
internal static class RunRows
{
    /// <summary>The columns <see cref="Read"/> expects, in order.</summary>
    public const string Columns = "id, function_id, status, input, output, error, attempt, created_at, started_at, ended_at, tags, progress, metadata";

    private static readonly JsonSerializerOptions ErrorJson = new(JsonSerializerDefaults.Web);

    /// <summary>The run on the reader's current row (selected as <see cref="Columns"/>).</summary>
    public static RunRecord Read(DbDataReader reader) =>
        new(
            reader.GetString(0),
            reader.GetString(1),
            (RunStatus)reader.GetInt32(2),
            reader.GetString(3),
            Text(reader, 4),
            Text(reader, 5) is { } error ? JsonSerializer.Deserialize<RunError>(error, ErrorJson) : null,
            reader.GetInt32(6),
            DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)),
            reader.IsDBNull(8) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(8)),
            reader.IsDBNull(9) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(9)))
        {
            Tags = Text(reader, 10) is { } tags ? JsonSerializer.Deserialize<string[]>(tags) ?? [] : [],
            ProgressJson = Text(reader, 11),
            MetadataJson = Text(reader, 12),
        };

    private static string? Text(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}

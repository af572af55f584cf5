using System.Text.Json;
using Baton.Storage;

namespace Baton.Engine;

/// <summary>Live information a run reports while it works: progress, metadata, tags added from inside.</summary>
internal sealed partial class RunExecution
{
    /// <summary>The most tags a run has, however they were added.</summary>
    public const int MaxTags = 10;

    /// <summary>The run that invoked this one, if any.</summary>
    public string? ParentRunId => _claim.ParentRunId;

    public async Task UpdateMetadataAsync(
        string? runId,
        (double Value, string? Message)? progress = null,
        (string Key, object? Value)? set = null,
        IReadOnlyList<string>? addTags = null)
    {
        // Code outside steps that runs again during a replay wrote this when it first ran.
        if (runId is null || IsReplaying)
        {
            return;
        }

        string? progressJson = progress is { } p
            ? JsonSerializer.Serialize(new { value = p.Value, message = p.Message, updatedAt = _engine.Time.GetUtcNow() }, _engine.Json)
            : null;
        string? patch = null;
        if (set is { } pair)
        {
            using var value = JsonSerializer.SerializeToDocument(pair.Value, pair.Value?.GetType() ?? typeof(object), _engine.Json);
            patch = JsonSerializer.Serialize(new Dictionary<string, JsonElement> { [pair.Key] = value.RootElement }, _engine.Json);
        }

        if (!await _engine.Storage.Runs.UpdateMetadataAsync(runId, new RunMetadataPatch(progressJson, patch, addTags), RunMetadata.MaxChars, MaxTags, CancellationToken.None).ConfigureAwait(false))
        {
            throw new NonRetriableException(addTags is not null
                ? $"Run '{runId}' would have more than {MaxTags} tags."
                : $"The metadata of run '{runId}' would be larger than {RunMetadata.MaxChars} characters of JSON; keep large values in step results.");
        }
    }
}

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

        // Progress is Baton's own shape: written with fixed names whatever the app's JSON options are.
        var progressJson = progress is { } p
            ? JsonSerializer.Serialize(new RunProgress(p.Value, p.Message, _engine.Time.GetUtcNow()), JsonSerializerOptions.Web)
            : null;
        var valueJson = set is { Value: { } value } ? JsonSerializer.Serialize(value, value.GetType(), _engine.Json) : null;
        bool written;
        try
        {
            written = await _engine.Storage.Runs.UpdateMetadataAsync(Lease, runId, new RunMetadataPatch(progressJson, set?.Key, valueJson, addTags), RunMetadata.MaxChars, MaxTags, CancellationToken.None).ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            // Another worker runs this run now: a stale execution reports nothing, and stops as at a failed checkpoint.
            LoseLease();
            return;
        }

        if (!written)
        {
            throw new NonRetriableException(addTags is not null
                ? $"Run '{runId}' would have more than {MaxTags} tags."
                : $"The metadata of run '{runId}' would be larger than {RunMetadata.MaxChars} characters of JSON; keep large values in step results.");
        }
    }
}

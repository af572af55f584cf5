using Baton.Engine;

namespace Baton;

/// <summary>
/// A run's live information, shown by the API (<c>progress</c>, <c>metadata</c>) and the dashboard while it runs: its
/// progress (a number and a message) and small key/value metadata. Call it from step bodies as they work (an LLM step
/// reporting the pages it has read).
/// </summary>
/// <remarks>
/// Each call is written at once, not journaled: it is information about the run, not part of its result. Calls outside
/// steps are skipped while the function replays (they were written when the code first ran). The metadata of a run
/// is at most <see cref="MaxChars"/> characters of JSON.
/// </remarks>
public sealed class RunMetadata
{
    /// <summary>The most characters a run's metadata may take as JSON.</summary>
    public const int MaxChars = 64 * 1024;

    private readonly RunExecution _execution;
    private readonly string? _runId;
    private readonly bool _isParent;

    internal RunMetadata(RunExecution execution, string? runId, bool isParent)
    {
        _execution = execution;
        _runId = runId;
        _isParent = isParent;
    }

    /// <summary>
    /// The metadata of the run that started this one with <c>Step.Invoke</c> or <c>Step.BatchInvoke</c> (Trigger.dev's
    /// <c>metadata.parent</c>), so a child can report to its parent; for a run without a parent, calls do nothing.
    /// </summary>
    public RunMetadata Parent => _isParent ? this : new RunMetadata(_execution, _execution.ParentRunId, isParent: true);

    /// <summary>Sets the run's progress: a number (a fraction, a percentage, items done) and what it is doing.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is not a finite number.</exception>
    public Task SetProgressAsync(double value, string? message = null)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "Progress must be a finite number.");
        }

        return _execution.UpdateMetadataAsync(_runId, progress: (value, message));
    }

    /// <summary>Sets one key of the metadata to a JSON-serializable value (null removes it).</summary>
    /// <remarks>The key's whole value is replaced (an object is not merged into the one there).</remarks>
    /// <exception cref="ArgumentException">The key is empty, longer than 128 characters, or holds '"' or '\'.</exception>
    /// <exception cref="NonRetriableException">The metadata would be larger than <see cref="MaxChars"/>.</exception>
    public Task SetAsync(string key, object? value)
    {
        if (string.IsNullOrEmpty(key) || key.Length > 128 || key.Contains('"', StringComparison.Ordinal) || key.Contains('\\', StringComparison.Ordinal))
        {
            throw new ArgumentException("A metadata key is 1 to 128 characters, without '\"' or '\\'.", nameof(key));
        }

        return _execution.UpdateMetadataAsync(_runId, set: (key, value));
    }

    /// <summary>Removes one key of the metadata.</summary>
    public Task RemoveAsync(string key) => SetAsync(key, null);
}

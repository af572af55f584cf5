using System.Text.Json;
using Baton.Engine;
using Microsoft.Extensions.Logging;

namespace Baton;

/// <summary>What a running function sees: its run, its attempt, a logger, a cancellation token and its <see cref="Step"/> tools.</summary>
/// <remarks>
/// <para>
/// A run may execute its function more than once: after a suspension (a long sleep), after an error outside steps, or
/// after a crash. Each time, completed steps return their committed results without running again, so the code
/// <em>between</em> steps runs again and must be deterministic: no clocks, random numbers, I/O or mutable global state
/// outside <see cref="Step"/> calls. Use <see cref="IsReplaying"/> or <see cref="Logger"/> (quiet during replay) for
/// diagnostics.
/// </para>
/// <para>Delivery: a step body runs at least once; once its result is committed it never runs again.</para>
/// </remarks>
public abstract class FunctionContext
{
    private readonly RunExecution _execution;
    private RunMetadata? _metadata;

    private protected FunctionContext(RunExecution execution, JsonElement rawEvent)
    {
        _execution = execution;
        RawEvent = rawEvent;
        Step = new StepTools(execution);
    }

    /// <summary>The function's id.</summary>
    public string FunctionId => _execution.FunctionId;

    /// <summary>The run's id.</summary>
    public string RunId => _execution.RunId;

    /// <summary>The function-level attempt, starting at 1; it grows when an error outside steps retries the function.</summary>
    public int Attempt => _execution.Attempt;

    /// <summary>The triggering event as raw JSON: <c>{id, name, data, ts}</c>.</summary>
    public JsonElement RawEvent { get; }

    /// <summary>The durable step tools: <c>Run</c>, <c>Sleep</c>, <c>SleepUntil</c>, <c>SendEvent</c>.</summary>
    public StepTools Step { get; }

    /// <summary>The run's live progress and metadata, shown by the API and the dashboard; <c>Metadata.Parent</c> reports to the invoking run.</summary>
    public RunMetadata Metadata => _metadata ??= new RunMetadata(_execution, RunId, isParent: false);

    /// <summary>Adds tags to the run (a run has at most 10, each 1 to 128 characters), to find it by in the API and dashboard.</summary>
    /// <exception cref="ArgumentException">A tag is empty or longer than 128 characters.</exception>
    /// <exception cref="NonRetriableException">The run would have more than 10 tags.</exception>
    public Task AddTagsAsync(params string[] tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        if (tags.Length == 0 || tags.Any(t => string.IsNullOrWhiteSpace(t) || t.Length > 128))
        {
            throw new ArgumentException("Give one or more tags of 1 to 128 characters.", nameof(tags));
        }

        return _execution.UpdateMetadataAsync(RunId, addTags: [.. tags.Distinct(StringComparer.Ordinal)]);
    }

    /// <summary>A logger that stays quiet while the function replays steps that already completed.</summary>
    public ILogger Logger => _execution.Logger;

    /// <summary>Cancelled when the run must stop at once: its lease was lost, or a graceful shutdown ran out of time.</summary>
    public CancellationToken CancellationToken => _execution.CancellationToken;

    /// <summary>The run's DI scope.</summary>
    public IServiceProvider Services => _execution.Services;

    /// <summary>True while the function is replaying steps its journal already holds.</summary>
    public bool IsReplaying => _execution.IsReplaying;
}

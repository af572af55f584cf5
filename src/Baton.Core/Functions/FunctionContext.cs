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

    /// <summary>A logger that stays quiet while the function replays steps that already completed.</summary>
    public ILogger Logger => _execution.Logger;

    /// <summary>Cancelled when the run must stop at once: its lease was lost, or a graceful shutdown ran out of time.</summary>
    public CancellationToken CancellationToken => _execution.CancellationToken;

    /// <summary>The run's DI scope.</summary>
    public IServiceProvider Services => _execution.Services;

    /// <summary>True while the function is replaying steps its journal already holds.</summary>
    public bool IsReplaying => _execution.IsReplaying;
}

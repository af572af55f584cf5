using System.Text.Json;

namespace Baton;

/// <summary>One step of a run as the client reports it.</summary>
public sealed record StepInfo
{
    /// <summary>The step key: the step id plus an occurrence suffix for repeats (<c>fetch</c>, <c>fetch:1</c>).</summary>
    public required string Id { get; init; }

    /// <summary>What kind of step this is.</summary>
    public required StepKind Kind { get; init; }

    /// <summary>The step's state.</summary>
    public required StepStatus Status { get; init; }

    /// <summary>How many times the body ran (attempts), 0 for waits.</summary>
    public int Attempts { get; init; }

    /// <summary>The committed result as JSON, when completed.</summary>
    public JsonElement? Output { get; init; }

    /// <summary>
    /// The size in bytes of a result stored out of line (larger than <see cref="BatonOptions.LargeValueBytes"/>); its
    /// <see cref="Output"/> is then null, and <see cref="IBatonClient.GetStepOutputAsync"/> reads it.
    /// </summary>
    public long? OutputBytes { get; init; }

    /// <summary>The last error, when failed or retrying.</summary>
    public RunError? Error { get; init; }

    /// <summary>When the step was first recorded.</summary>
    public DateTimeOffset StartedAt { get; init; }

    /// <summary>When it ended.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>For a sleep, or a retry, when it is due.</summary>
    public DateTimeOffset? WakeAt { get; init; }

    /// <summary>For a step waiting for an event, which event it waits for.</summary>
    public EventWaitInfo? WaitingFor { get; init; }

    /// <summary>For <c>Step.Invoke</c> and <c>Step.BatchInvoke</c>, the child runs it started, in order.</summary>
    public IReadOnlyList<string> ChildRunIds { get; init; } = [];
}

using System.Text.Json;
using Baton.Engine;

namespace Baton;

/// <summary>The context of a function whose triggering event payload is <typeparamref name="TEvent"/>.</summary>
/// <typeparam name="TEvent">The payload type.</typeparam>
public sealed class FunctionContext<TEvent> : FunctionContext
{
    internal FunctionContext(RunExecution execution, JsonElement rawEvent, EventEnvelope<TEvent> @event, IReadOnlyList<EventEnvelope<TEvent>> events)
        : base(execution, rawEvent)
    {
        Event = @event;
        Events = events;
    }

    /// <summary>The triggering event, with its payload deserialized (for a batch run, the batch's first event).</summary>
    public EventEnvelope<TEvent> Event { get; }

    /// <summary>
    /// Every event of the run, in the order they were accepted: the events of its batch when the function batches
    /// events (<see cref="FunctionOptions.BatchEvents"/>), otherwise just <see cref="Event"/>.
    /// </summary>
    public IReadOnlyList<EventEnvelope<TEvent>> Events { get; }
}

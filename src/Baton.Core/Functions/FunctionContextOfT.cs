using System.Text.Json;
using Baton.Engine;

namespace Baton;

/// <summary>The context of a function whose triggering event payload is <typeparamref name="TEvent"/>.</summary>
/// <typeparam name="TEvent">The payload type.</typeparam>
public sealed class FunctionContext<TEvent> : FunctionContext
{
    internal FunctionContext(RunExecution execution, JsonElement rawEvent, EventEnvelope<TEvent> @event)
        : base(execution, rawEvent)
    {
        Event = @event;
    }

    /// <summary>The triggering event, with its payload deserialized.</summary>
    public EventEnvelope<TEvent> Event { get; }
}

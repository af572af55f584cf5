namespace Baton;

/// <summary>A function as registered on the builder, before validation. One DI singleton per registration.</summary>
internal sealed record FunctionDescriptor(string Id, FunctionOptions Options, Type? HandlerType, Engine.FunctionInvoker? Invoker, Type EventType, string Source);

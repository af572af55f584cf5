namespace Baton;

/// <summary>The result of a step with no result; serialized as <c>null</c>.</summary>
internal readonly struct Unit;

namespace Baton.Engine;

/// <summary>The functions that lifecycle events trigger, as read from the catalog at <see cref="ReadAt"/>.</summary>
internal sealed record LifecycleRoutes(DateTimeOffset ReadAt, ILookup<string, string> Routes);

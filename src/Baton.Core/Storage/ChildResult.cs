namespace Baton.Storage;

/// <summary>How one child run of a batch ended (or that it has not).</summary>
public sealed record ChildResult(int Index, string RunId, RunStatus Status, string? OutputJson, RunError? Error);

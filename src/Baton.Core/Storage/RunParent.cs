namespace Baton.Storage;

/// <summary>The run and step a child run reports to when it ends, and its position in the parent's batch.</summary>
public sealed record RunParent(string RunId, string StepKey, int Index);

namespace Baton;

/// <summary>A run an event started: its id, its function and its status now.</summary>
public sealed record EventRunInfo(string RunId, string FunctionId, RunStatus Status);

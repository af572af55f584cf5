namespace Baton;

/// <summary>A run's progress as its steps last reported it (<see cref="RunMetadata.SetProgressAsync"/>).</summary>
public sealed record RunProgress(double Value, string? Message, DateTimeOffset UpdatedAt);

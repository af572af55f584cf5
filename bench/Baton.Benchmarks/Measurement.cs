namespace Baton.Benchmarks;

/// <summary>One figure of the report: the median of the repetitions, with min and max.</summary>
public sealed record Measurement(string Scenario, string System, string Storage, double Value, string Unit, double Min, double Max);

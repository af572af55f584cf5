namespace Baton.Storage;

/// <summary>
/// The concurrency limits a claim must respect for one function: executing runs of the function, and of each
/// concurrency key (the value stored with each run). Null means no limit of that kind.
/// </summary>
public sealed record ConcurrencyRule(int? FunctionLimit, int? KeyLimit);

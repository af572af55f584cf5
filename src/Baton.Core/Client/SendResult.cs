namespace Baton;

/// <summary>What <see cref="IBatonClient.SendAsync(IEnumerable{BatonEvent}, CancellationToken)"/> accepted.</summary>
/// <param name="Ids">The event ids, in the order sent (the given id, or the one Baton assigned).</param>
/// <param name="RunIds">The runs the events started. A repeated event id starts none.</param>
public sealed record SendResult(IReadOnlyList<string> Ids, IReadOnlyList<string> RunIds);

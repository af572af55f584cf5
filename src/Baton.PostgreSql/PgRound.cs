namespace Baton.PostgreSql;

/// <summary>
/// One round trip of a write: statements, and what to do with their results, either the write's answer or another round
/// in the same transaction (when the next statements depend on what the first returned, such as a condition evaluated in
/// .NET). Most writes are one round. <paramref name="Final"/> says the round never asks for another: when every write of a
/// batch is at such a round, the writer sends the commit in the same round trip. <paramref name="LockFree"/>, on a
/// write's first round, says the whole write neither waits on nor holds a row lock that another write of the node may
/// hold or want (a step checkpoint: a new journal row of a run that only its own execution writes, under a lease it
/// reads without locking); such writes may commit while another batch is in flight (see <see cref="PostgreSqlWriter"/>).
/// </summary>
internal sealed record PgRound<T>(IReadOnlyList<PgCommand> Commands, Func<IReadOnlyList<PgResult>, PgNext<T>> Then, bool NotifiesWork = false, bool Final = false, bool LockFree = false);

/// <summary>The outcome of a round: the answer, or the next round.</summary>
internal readonly record struct PgNext<T>(T Value, PgRound<T>? Round)
{
    public static PgNext<T> Done(T value) => new(value, null);

    public static PgNext<T> More(PgRound<T> round) => new(default!, round);
}

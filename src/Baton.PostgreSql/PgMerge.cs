namespace Baton.PostgreSql;

/// <summary>
/// A statement's row, for folding statements of one kind that different writes send in the same round into one
/// multi-row statement: PostgreSQL then plans and executes once per round instead of once per write, which is most of
/// its work for the small writes a busy node sends (a step checkpoint is one row).
/// </summary>
/// <param name="Kind">Statements fold only with statements of the same kind (and the same <see cref="Build"/>).</param>
/// <param name="Identity">Rows with the same identity never fold together (each could change the other's row).</param>
/// <param name="Row">The statement's values, as <see cref="Build"/> expects them.</param>
/// <param name="Build">Builds one statement for several rows (in their order).</param>
/// <param name="Split">The result the single statement would have given this row, from the folded statement's result.</param>
internal sealed record PgMerge(
    string Kind,
    string Identity,
    object Row,
    Func<IReadOnlyList<object>, PgCommand> Build,
    Func<PgResult, object, PgResult> Split);

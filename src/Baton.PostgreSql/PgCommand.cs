using Npgsql;

namespace Baton.PostgreSql;

/// <summary>One statement of a write, to be sent in the writer's batch.</summary>
/// <param name="sql">The statement.</param>
/// <param name="returnsRows">Whether it returns rows (a SELECT or RETURNING); only those yield a result set.</param>
internal sealed class PgCommand(string sql, bool returnsRows = false)
{
    public string Sql { get; } = sql;

    public bool ReturnsRows { get; } = returnsRows;

    private Action<PgCommand>? _deferredParameters;

    public List<NpgsqlParameter> Parameters { get; } = [];

    /// <summary>
    /// How the writer may fold this statement with others of the same kind in one round into a single multi-row
    /// statement (null: never). Only a round that is this one statement alone is folded.
    /// </summary>
    public PgMerge? Merge { get; init; }

    /// <summary>Adds a parameter typed by <typeparamref name="T"/>, so that a null still has a type for PostgreSQL.</summary>
    public PgCommand With<T>(string name, T value)
    {
        Parameters.Add(new NpgsqlParameter<T> { ParameterName = name, TypedValue = value });
        return this;
    }

    public PgCommand WithLease(Baton.Storage.RunLease lease) =>
        With("run", lease.RunId).With("owner", lease.Owner).With("token", lease.Token);

    /// <summary>The parameters of a journal entry: @key, @kind, @status, @output, @error, @attempts, @started, @ended, @wake.</summary>
    public PgCommand WithStep(Baton.Storage.StepRecord step) =>
        With("key", step.Key).With("kind", (int)step.Kind).With("status", (int)step.Status)
            .With("output", step.OutputJson).With("error", PostgreSqlDatabase.ErrorToDb(step.Error)).With("attempts", step.Attempts)
            .With("started", PostgreSqlDatabase.Ms(step.StartedAt)).With("ended", PostgreSqlDatabase.MsOrNull(step.EndedAt))
            .With("wake", PostgreSqlDatabase.MsOrNull(step.WakeAt));

    /// <summary>
    /// Adds the parameters only if the statement is sent as it is: a statement the writer folds into a multi-row one
    /// (see <see cref="PgMerge"/>), as most checkpoints are, never needs its own.
    /// </summary>
    public PgCommand WithParametersWhenSentAlone(Action<PgCommand> add)
    {
        _deferredParameters = add;
        return this;
    }

    public NpgsqlBatchCommand ToBatchCommand()
    {
        if (_deferredParameters is { } add)
        {
            _deferredParameters = null;
            add(this);
        }

        var command = new NpgsqlBatchCommand(Sql);
        foreach (var parameter in Parameters)
        {
            // A copy per batch: a batch sent again (after a failed write was taken out) needs parameters of its own.
            command.Parameters.Add(parameter.Clone());
        }

        return command;
    }
}

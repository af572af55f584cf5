namespace Baton.PostgreSql;

/// <summary>What one statement of a batch returned: its rows and how many rows it changed.</summary>
internal sealed record PgResult(IReadOnlyList<object?[]> Rows, int RecordsAffected);

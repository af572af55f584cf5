using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DocumentAnalysis.Documents;

/// <summary>
/// The app's own data: documents and their analyses. In <c>documents.db</c> in the content root, or, when the app runs
/// Baton on PostgreSQL (<c>BATON_POSTGRES</c>), in a <c>documents</c> table of that database, so that every copy of
/// the app sees the documents every other copy analyzes.
/// </summary>
public sealed class DocumentStore
{
    private readonly Func<DbConnection> _connect;

    public DocumentStore(IHostEnvironment environment, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(configuration);
        var postgres = configuration["BATON_POSTGRES"];
        if (string.IsNullOrWhiteSpace(postgres))
        {
            var sqlite = new SqliteConnectionStringBuilder
            {
                DataSource = Path.Combine(environment.ContentRootPath, "documents.db"),
                DefaultTimeout = 10,
            }.ToString();
            _connect = () => new SqliteConnection(sqlite);
            using var connection = Open();
            Execute(connection, "PRAGMA journal_mode=WAL;");
        }
        else
        {
            _connect = () => new NpgsqlConnection(postgres);
        }

        using (var connection = Open())
        {
            Execute(connection, """
                CREATE TABLE IF NOT EXISTS documents (
                    doc_id TEXT PRIMARY KEY,
                    file_url TEXT NOT NULL,
                    status TEXT NOT NULL,
                    analysis TEXT,
                    error TEXT);
                CREATE TABLE IF NOT EXISTS batches (
                    batch_id TEXT PRIMARY KEY,
                    status TEXT NOT NULL,
                    total INTEGER NOT NULL,
                    succeeded INTEGER,
                    failed INTEGER);
                """);
            AddColumnIfMissing(connection, "documents", "approved_by", "TEXT");
        }
    }

    public void Add(string docId, string fileUrl, string status = "pending")
    {
        using var connection = Open();
        Execute(connection, "INSERT INTO documents (doc_id, file_url, status) VALUES (@id, @url, @status) ON CONFLICT (doc_id) DO NOTHING;", ("id", docId), ("url", fileUrl), ("status", status));
    }

    /// <summary>Records a batch and its documents in one transaction.</summary>
    public void AddBatch(string batchId, IReadOnlyList<(string DocId, string FileUrl)> documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        Execute(connection, transaction, "INSERT INTO batches (batch_id, status, total) VALUES (@id, 'running', @total);", ("id", batchId), ("total", documents.Count));
        foreach (var (docId, fileUrl) in documents)
        {
            Execute(connection, transaction, "INSERT INTO documents (doc_id, file_url, status) VALUES (@id, @url, 'pending') ON CONFLICT (doc_id) DO NOTHING;", ("id", docId), ("url", fileUrl));
        }

        transaction.Commit();
    }

    /// <summary>Records a batch's totals. Idempotent.</summary>
    public void FinishBatch(string batchId, int succeeded, int failed)
    {
        using var connection = Open();
        Execute(connection, "UPDATE batches SET status = 'done', succeeded = @ok, failed = @failed WHERE batch_id = @id;", ("id", batchId), ("ok", succeeded), ("failed", failed));
    }

    public Batch? FindBatch(string batchId)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT batch_id, status, total, succeeded, failed FROM batches WHERE batch_id = @id;";
        AddParameter(command, "id", batchId);
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new Batch(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetInt32(4))
            : null;
    }

    /// <summary>Sets a document's status. Idempotent.</summary>
    public void SetStatus(string docId, string status)
    {
        using var connection = Open();
        Execute(connection, "UPDATE documents SET status = @status WHERE doc_id = @id;", ("id", docId), ("status", status));
    }

    /// <summary>Records who approved a document. Idempotent.</summary>
    public void Approve(string docId, string approver)
    {
        using var connection = Open();
        Execute(connection, "UPDATE documents SET status = 'approved', approved_by = @approver WHERE doc_id = @id;", ("id", docId), ("approver", approver));
    }

    /// <summary>Saves an analysis with the document's next status. Idempotent: a retried save writes the same row again.</summary>
    public void SaveAnalysis(string docId, string analysis, string status)
    {
        using var connection = Open();
        Execute(connection, "UPDATE documents SET status = @status, analysis = @analysis, error = NULL WHERE doc_id = @id;", ("id", docId), ("analysis", analysis), ("status", status));
    }

    public void MarkFailed(string docId, string error)
    {
        using var connection = Open();
        Execute(connection, "UPDATE documents SET status = 'failed', error = @error WHERE doc_id = @id AND status <> 'done';", ("id", docId), ("error", error));
    }

    public Document? Find(string docId)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT doc_id, status, analysis, error, approved_by FROM documents WHERE doc_id = @id;";
        AddParameter(command, "id", docId);
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new Document(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4))
            : null;
    }

    /// <summary>Adds a column that an earlier version of the sample did not create.</summary>
    private static void AddColumnIfMissing(DbConnection connection, string table, string column, string type)
    {
        try
        {
            Execute(connection, $"SELECT {column} FROM {table} WHERE 1 = 0;");
        }
        catch (DbException)
        {
            Execute(connection, $"ALTER TABLE {table} ADD COLUMN {column} {type};");
        }
    }

    private DbConnection Open()
    {
        var connection = _connect();
        connection.Open();
        return connection;
    }

    private static void Execute(DbConnection connection, string sql, params (string Name, object Value)[] parameters) =>
        Execute(connection, null, sql, parameters);

    private static void Execute(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            AddParameter(command, name, value);
        }

        command.ExecuteNonQuery();
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}

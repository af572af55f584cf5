using Microsoft.Data.Sqlite;

namespace DocumentAnalysis.Documents;

/// <summary>The app's own data: documents and their analyses, in <c>documents.db</c> in the content root.</summary>
public sealed class DocumentStore
{
    private readonly string _connectionString;

    public DocumentStore(IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(environment.ContentRootPath, "documents.db"),
            DefaultTimeout = 10,
        }.ToString();
        using var connection = Open();
        Execute(connection, """
            PRAGMA journal_mode=WAL;
            CREATE TABLE IF NOT EXISTS documents (
                doc_id TEXT PRIMARY KEY,
                file_url TEXT NOT NULL,
                status TEXT NOT NULL,
                analysis TEXT,
                error TEXT);
            """);
    }

    public void Add(string docId, string fileUrl)
    {
        using var connection = Open();
        Execute(connection, "INSERT OR IGNORE INTO documents(doc_id, file_url, status) VALUES ($id, $url, 'pending');", ("$id", docId), ("$url", fileUrl));
    }

    /// <summary>Saves an analysis. Idempotent: a retried save writes the same row again.</summary>
    public void SaveAnalysis(string docId, string analysis)
    {
        using var connection = Open();
        Execute(connection, "UPDATE documents SET status = 'done', analysis = $analysis, error = NULL WHERE doc_id = $id;", ("$id", docId), ("$analysis", analysis));
    }

    public void MarkFailed(string docId, string error)
    {
        using var connection = Open();
        Execute(connection, "UPDATE documents SET status = 'failed', error = $error WHERE doc_id = $id AND status <> 'done';", ("$id", docId), ("$error", error));
    }

    public Document? Find(string docId)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT doc_id, status, analysis, error FROM documents WHERE doc_id = $id;";
        command.Parameters.AddWithValue("$id", docId);
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new Document(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3))
            : null;
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        command.ExecuteNonQuery();
    }
}

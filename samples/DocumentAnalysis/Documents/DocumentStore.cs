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
                """);
        }
    }

    public void Add(string docId, string fileUrl)
    {
        using var connection = Open();
        Execute(connection, "INSERT INTO documents (doc_id, file_url, status) VALUES (@id, @url, 'pending') ON CONFLICT (doc_id) DO NOTHING;", ("id", docId), ("url", fileUrl));
    }

    /// <summary>Saves an analysis. Idempotent: a retried save writes the same row again.</summary>
    public void SaveAnalysis(string docId, string analysis)
    {
        using var connection = Open();
        Execute(connection, "UPDATE documents SET status = 'done', analysis = @analysis, error = NULL WHERE doc_id = @id;", ("id", docId), ("analysis", analysis));
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
        command.CommandText = "SELECT doc_id, status, analysis, error FROM documents WHERE doc_id = @id;";
        AddParameter(command, "id", docId);
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new Document(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3))
            : null;
    }

    private DbConnection Open()
    {
        var connection = _connect();
        connection.Open();
        return connection;
    }

    private static void Execute(DbConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
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

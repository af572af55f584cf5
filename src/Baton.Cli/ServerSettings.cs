namespace Baton.Cli;

/// <summary>How a Baton server runs: where it listens, its storage, its keys and its limits.</summary>
internal sealed record ServerSettings
{
    /// <summary>The address to bind (dev: loopback only).</summary>
    public required string Bind { get; init; }

    public required int Port { get; init; }

    /// <summary>A SQLite file, when <see cref="Postgres"/> is null.</summary>
    public string? SqlitePath { get; init; }

    /// <summary>A PostgreSQL connection string.</summary>
    public string? Postgres { get; init; }

    /// <summary>Dev mode: no keys required (the server listens on loopback only).</summary>
    public bool Dev { get; init; }

    /// <summary>Accepted keys: <c>key</c> (manage) or <c>events:key</c> (send events only).</summary>
    public IReadOnlyList<string> ApiKeys { get; init; } = [];

    /// <summary>The largest request body accepted, in bytes.</summary>
    public long MaxRequestBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>The largest event payload accepted, in bytes.</summary>
    public int MaxEventBytes { get; init; } = 1024 * 1024;

    /// <summary>The most events per request.</summary>
    public int MaxEventsPerRequest { get; init; } = 1000;

    /// <summary>What is wrong with these settings, if anything.</summary>
    public IEnumerable<string> Problems()
    {
        if (!Dev && ApiKeys.Count == 0)
        {
            yield return "A server outside dev mode needs at least one API key: pass --api-key <key> (repeatable; 'events:<key>' for a key that may only send events) or set BATON_API_KEYS=key1,key2.";
        }

        if (ApiKeys.Any(k => Baton.AspNetCore.BatonApiKeys.Parse(k).Key.Length < 16))
        {
            yield return "Every API key must be at least 16 characters long.";
        }

        if (Port is < 0 or > 65535)
        {
            yield return $"--port {Port} is not a port (0 to 65535).";
        }

        if (SqlitePath is null && Postgres is null)
        {
            yield return "Give the storage: --sqlite <file> or --postgres <connection string>.";
        }

        if (SqlitePath is not null && Postgres is not null)
        {
            yield return "Give one storage: --sqlite or --postgres, not both.";
        }
    }
}

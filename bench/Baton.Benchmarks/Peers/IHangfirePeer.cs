namespace Baton.Benchmarks.Peers;

/// <summary>
/// Hangfire measured the way Baton is, in the same process and on the same storage kinds. Each call builds fresh
/// storage (a new SQLite file, a dropped-and-recreated PostgreSQL schema, a new in-memory storage), runs, and cleans up.
/// </summary>
public interface IHangfirePeer
{
    /// <summary>Enqueue <paramref name="jobs"/> no-op fire-and-forget jobs, then start a server and time until all have run. Returns jobs/s.</summary>
    Task<double> FireAndForgetAsync(PeerStorage storage, int jobs, CancellationToken cancellationToken);

    /// <summary>Create <paramref name="chains"/> 3-job continuation chains (Enqueue + ContinueJobWith x2), then time until all have run. Returns chains/s.</summary>
    Task<double> ChainsAsync(PeerStorage storage, int chains, CancellationToken cancellationToken);

    /// <summary>Enqueue → job start latency on an idle server, <paramref name="samples"/> samples, enqueued from this process.</summary>
    Task<LatencySamples> LatencyAsync(PeerStorage storage, int samples, CancellationToken cancellationToken);

    /// <summary>
    /// Enqueue → job start latency on an idle server, <paramref name="samples"/> samples, enqueued by another process
    /// (durable storages only: nothing but the storage connects the two processes).
    /// </summary>
    Task<LatencySamples> CrossProcessLatencyAsync(PeerStorage storage, int samples, CancellationToken cancellationToken);
}

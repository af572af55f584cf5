using System.Text.Json;

namespace Baton;

/// <summary>Engine settings. Validated at start-up; every problem is reported at once.</summary>
public sealed class BatonOptions
{
    /// <summary>
    /// Runs this node executes at once. Default: 128 per core, at least 256. Runs mostly wait on I/O (an LLM call, the
    /// storage's commit), and every run in flight adds its next write to the writer's group commit: with 64 a 2-core
    /// node wrote 3,600 three-step runs/s to SQLite, with 256 and more about 5,600 (see bench/README.md).
    /// </summary>
    public int MaxConcurrentRuns { get; set; } = Math.Max(256, Environment.ProcessorCount * 128);

    /// <summary>Runs claimed per storage round trip. Default: 128.</summary>
    public int ClaimBatchSize { get; set; } = 128;

    /// <summary>How long a claim is valid without a heartbeat. A dead node's runs are reclaimed after this. Default: 30 s.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a worker renews its leases. Must be well below <see cref="LeaseDuration"/>. Default: 10 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The longest a worker waits before looking for work it was not told about (runs created by another process,
    /// expired leases). Work created in this process is picked up at once. Default: 1 s.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Waits (sleeps, retry backoffs) up to this long stay in memory, holding the worker slot; longer ones suspend the
    /// run. Either way the wait is persisted first. Default: 1 s.
    /// </summary>
    public TimeSpan HotWaitLimit { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// On shutdown, how long in-flight step bodies may run to completion before they are cancelled; runs still going
    /// then are released and resumed later (their unfinished steps run again). Default: 25 s.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>The largest serialized event or trigger payload accepted, in bytes. Default: 1 MiB.</summary>
    public int MaxEventBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Step results and run outputs larger than this many bytes (as JSON) are stored compressed, out of the hot tables,
    /// and read only when used (a replay that passes the step loads its result then; the API shows the size until
    /// asked for the value). Default: 64 KiB. <c>int.MaxValue</c> keeps every value inline.
    /// </summary>
    public int LargeValueBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// The largest step result or run output, in bytes of JSON. A larger result fails its step without retrying, with an
    /// error naming the step and the size. Default: 64 MiB.
    /// </summary>
    public long MaxValueBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>The most child runs one <c>Step.BatchInvoke</c> or <c>BatchTriggerAsync</c> may start. Default: 10,000.</summary>
    public int MaxBatchSize { get; set; } = 10_000;

    /// <summary>
    /// How long ended runs (with their steps) and received events are kept; older ones are deleted by the workers. Event
    /// ids are deduplicated within this window. Null keeps everything. Default: 7 days.
    /// </summary>
    public TimeSpan? HistoryRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Whether this node executes runs. Set false for a node that only sends events and reads runs. Default: true.</summary>
    public bool RunWorker { get; set; } = true;

    /// <summary>
    /// The queues (worker pools) this node's worker serves, such as <c>gpu</c> or <c>high-memory</c>; runs in other
    /// queues wait for a node that serves theirs. Default: null, every queue.
    /// </summary>
    public IList<string>? Queues { get; set; }

    /// <summary>A name for this node in leases and logs. Default: host name, process id and a random suffix.</summary>
    public string? NodeId { get; set; }

    /// <summary>How payloads, step results and outputs are serialized. Default: <see cref="JsonSerializerDefaults.Web"/>.</summary>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = new(JsonSerializerDefaults.Web);

    internal IEnumerable<string> Validate()
    {
        if (MaxConcurrentRuns < 1)
        {
            yield return $"MaxConcurrentRuns is {MaxConcurrentRuns}; it must be at least 1";
        }

        if (ClaimBatchSize < 1)
        {
            yield return $"ClaimBatchSize is {ClaimBatchSize}; it must be at least 1";
        }

        if (LeaseDuration < TimeSpan.FromSeconds(1))
        {
            yield return $"LeaseDuration is {LeaseDuration}; it must be at least 1 second";
        }

        if (HeartbeatInterval <= TimeSpan.Zero || HeartbeatInterval > LeaseDuration / 2)
        {
            yield return $"HeartbeatInterval is {HeartbeatInterval}; it must be positive and at most half of LeaseDuration ({LeaseDuration})";
        }

        if (PollInterval <= TimeSpan.Zero)
        {
            yield return $"PollInterval is {PollInterval}; it must be positive";
        }

        if (HotWaitLimit < TimeSpan.Zero || HotWaitLimit >= LeaseDuration)
        {
            yield return $"HotWaitLimit is {HotWaitLimit}; it must be between zero and LeaseDuration ({LeaseDuration})";
        }

        if (ShutdownTimeout < TimeSpan.Zero)
        {
            yield return $"ShutdownTimeout is {ShutdownTimeout}; it must not be negative";
        }

        if (HistoryRetention is { } retention && retention < TimeSpan.FromMinutes(1))
        {
            yield return $"HistoryRetention is {retention}; keep history for at least a minute, or set null to keep it forever";
        }

        foreach (var queue in Queues ?? [])
        {
            if (!Engine.FunctionRegistry.IsValidQueueName(queue))
            {
                yield return $"Queues contains '{queue}', which is not a valid queue name; use 1-64 letters, digits, '.', '_' or '-'";
            }
        }

        if (MaxBatchSize < 1)
        {
            yield return $"MaxBatchSize is {MaxBatchSize}; it must be at least 1";
        }

        if (MaxEventBytes < 1024)
        {
            yield return $"MaxEventBytes is {MaxEventBytes}; it must be at least 1024";
        }

        if (LargeValueBytes < 1024)
        {
            yield return $"LargeValueBytes is {LargeValueBytes}; it must be at least 1024";
        }

        if (MaxValueBytes < 1024)
        {
            yield return $"MaxValueBytes is {MaxValueBytes}; it must be at least 1024";
        }

        if (JsonSerializerOptions is null)
        {
            yield return "JsonSerializerOptions is null; leave the default or set your own options";
        }
    }
}

namespace Baton.Storage;

/// <summary>
/// The hot work queue: claims under leases, and every state change a worker makes to a run it holds. Each write
/// carries the <see cref="RunLease"/> and throws <see cref="LeaseLostException"/> when the lease is no longer held.
/// </summary>
public interface IWorkQueue
{
    /// <summary>
    /// Claims up to <paramref name="max"/> runs that are due (new, woken, retrying, or whose lease expired) among
    /// <paramref name="functionIds"/>, leasing them to <paramref name="owner"/> for <paramref name="leaseDuration"/>.
    /// Functions in <paramref name="limits"/> get no more executing runs (leased, lease not expired) than their limits
    /// allow, counted across every node, and their keys take turns. Only runs in <paramref name="queues"/> (null: any) that
    /// are not paused are claimed.
    /// </summary>
    Task<IReadOnlyList<ClaimedRun>> ClaimAsync(
        string owner,
        IReadOnlyCollection<string> functionIds,
        int max,
        TimeSpan leaseDuration,
        IReadOnlyDictionary<string, ConcurrencyRule> limits,
        IReadOnlyCollection<string>? queues,
        CancellationToken cancellationToken);

    /// <summary>Pauses (or resumes) a queue: while paused, no run waiting in it is claimed, on any node.</summary>
    Task SetQueuePausedAsync(string queue, bool paused, CancellationToken cancellationToken);

    /// <summary>The queues that are paused.</summary>
    Task<IReadOnlyList<string>> PausedQueuesAsync(CancellationToken cancellationToken);

    /// <summary>Every queue that has unfinished runs or is paused, by name, with its runs counted by state at <paramref name="now"/>.</summary>
    Task<IReadOnlyList<QueueStats>> ListQueuesAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// The earliest time after now at which a run becomes claimable (a sleep or backoff ends, or a lease expires), or
    /// null when nothing is scheduled.
    /// </summary>
    Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Extends the given leases (those of executions still alive; a lease whose execution ended is left to expire).
    /// Returns the ids of the runs still held.
    /// </summary>
    Task<IReadOnlySet<string>> RenewAsync(IReadOnlyCollection<RunLease> leases, TimeSpan leaseDuration, CancellationToken cancellationToken);

    /// <summary>
    /// Makes every run leased by <paramref name="owner"/> claimable now. Only for an owner known to be dead (its process
    /// is gone), so its runs need not wait for their leases to expire. Returns how many runs were freed.
    /// </summary>
    Task<int> ExpireLeasesAsync(string owner, CancellationToken cancellationToken);

    /// <summary>
    /// Calls <paramref name="onWork"/> whenever another node announces claimable work, and <paramref name="onCancelled"/>
    /// with the id of every run another node cancelled (PostgreSQL's LISTEN/NOTIFY), until the returned subscription is
    /// disposed. Providers without notifications return a subscription that never calls; workers then rely on polling for
    /// work, and learn of a cancellation at their run's next write or heartbeat.
    /// </summary>
    IDisposable SubscribeToWork(Action onWork, Action<string>? onCancelled = null);

    /// <summary>The distinct owners of leased runs.</summary>
    Task<IReadOnlyList<string>> LeaseOwnersAsync(CancellationToken cancellationToken);

    /// <summary>Writes a journal entry (insert or update by key). Returns once durable.</summary>
    Task CheckpointAsync(RunLease lease, StepRecord step, CancellationToken cancellationToken);

    /// <summary>Releases the lease and puts the run back in the queue, due at <see cref="RunSuspension.WakeAt"/>.</summary>
    Task SuspendAsync(RunLease lease, RunSuspension suspension, CancellationToken cancellationToken);

    /// <summary>Ends the run, removes it from the queue, and appends the emitted events, in one transaction.</summary>
    Task CompleteAsync(RunLease lease, RunCompletion completion, CancellationToken cancellationToken);

    /// <summary>
    /// Records that the run waits for an event (<paramref name="waiting"/>, a journal entry with status
    /// <see cref="StepStatus.Waiting"/> and the timeout as <see cref="StepRecord.WakeAt"/>) and makes the wait findable by
    /// incoming events. With a look-back, an event already stored that matches resolves the wait at once instead. Returns
    /// the journal entry as written: waiting, or completed with the event.
    /// </summary>
    Task<StepRecord> WaitForEventAsync(RunLease lease, StepRecord waiting, EventWait wait, CancellationToken cancellationToken);

    /// <summary>
    /// Ends an open wait (for an event or for children) at its timeout by writing <paramref name="expired"/>, unless the
    /// wait was resolved first. Exactly one outcome is ever recorded; returns the journal entry as it now stands.
    /// </summary>
    Task<StepRecord> ExpireWaitAsync(RunLease lease, StepRecord expired, CancellationToken cancellationToken);

    /// <summary>
    /// Creates child runs (each naming this run and step as its parent) and records the step waiting for them, in one
    /// transaction. The wait is resolved when the last child ends (<see cref="WaitKind.Invoke"/> with the child's
    /// outcome; <see cref="WaitKind.BatchInvoke"/> with a completed entry whose results are read from the children).
    /// </summary>
    Task StartChildrenAsync(RunLease lease, StepRecord waiting, WaitKind kind, IReadOnlyList<NewRun> children, CancellationToken cancellationToken);

    /// <summary>Sets the deadline of the run's finish timeout, unless one is set already.</summary>
    Task SetFinishByAsync(RunLease lease, DateTimeOffset deadline, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="max"/> unfinished runs whose finish deadline has passed.</summary>
    Task<IReadOnlyList<string>> OverdueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken);

    /// <summary>Gives the run back to the queue, due now (graceful shutdown).</summary>
    Task ReleaseAsync(RunLease lease, CancellationToken cancellationToken);
}

namespace Baton.Storage;

/// <summary>A storage provider: the narrow stores the engine uses, behind one object that owns their resources.</summary>
public interface IBatonStorage : IAsyncDisposable
{
    /// <summary>Events.</summary>
    IEventStore Events { get; }

    /// <summary>Runs and journals.</summary>
    IRunStore Runs { get; }

    /// <summary>The work queue and leased writes.</summary>
    IWorkQueue Queue { get; }

    /// <summary>Registered functions.</summary>
    IFunctionCatalog Functions { get; }

    /// <summary>Cron schedules.</summary>
    IScheduleStore Schedules { get; }

    /// <summary>Creates or migrates the schema. Safe to call more than once and from several processes.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Checks that storage is reachable; throws with the reason when it is not.</summary>
    Task CheckHealthAsync(CancellationToken cancellationToken);
}

namespace Baton.Storage;

/// <summary>The functions workers have registered, so every node (server, dashboard) knows them.</summary>
public interface IFunctionCatalog
{
    /// <summary>Inserts or updates registrations by id.</summary>
    Task RegisterAsync(IReadOnlyList<FunctionRegistration> functions, CancellationToken cancellationToken);

    /// <summary>Lists every registered function.</summary>
    Task<IReadOnlyList<FunctionRegistration>> ListAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The registered functions that the given event names trigger, whichever node registered them: any node can accept
    /// an event for a function only another node runs.
    /// </summary>
    Task<IReadOnlyList<TriggerMatch>> FindTriggeredAsync(IReadOnlyCollection<string> eventNames, CancellationToken cancellationToken);

    /// <summary>Whether a function with this id is registered by any node.</summary>
    Task<bool> ExistsAsync(string functionId, CancellationToken cancellationToken);
}

namespace Baton;

/// <summary>Names of the events Baton itself emits; functions may trigger on them.</summary>
public static class LifecycleEvents
{
    /// <summary>Emitted when any run ends (completed or failed). Data: <see cref="FunctionFinishedData"/>.</summary>
    public const string FunctionFinished = "baton/function.finished";

    /// <summary>Emitted when a run fails for good. Data: <see cref="FunctionFinishedData"/>.</summary>
    public const string FunctionFailed = "baton/function.failed";

    /// <summary>The name of the synthetic event that starts a run triggered by function id.</summary>
    public const string FunctionInvoked = "baton/function.invoked";

    /// <summary>The input of a run started by a cron schedule; its data is a <see cref="CronTick"/>.</summary>
    public const string Cron = "baton/cron";

    internal static bool IsReserved(string name) => name.StartsWith("baton/", StringComparison.Ordinal);

    internal static bool CanTriggerOn(string name) => name is FunctionFinished or FunctionFailed;
}

namespace Baton.Sqlite;

/// <summary>A subscription that never calls back.</summary>
internal sealed class NoSubscription : IDisposable
{
    public static readonly NoSubscription Instance = new();

    public void Dispose()
    {
    }
}

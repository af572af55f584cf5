namespace Baton.Engine;

/// <summary>Time-ordered ids (UUID v7, 32 hex digits), so ids sort roughly by creation time.</summary>
internal static class Ids
{
    public static string New(TimeProvider time) => Guid.CreateVersion7(time.GetUtcNow()).ToString("N");
}

using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Baton;

/// <summary>An opaque position in a newest-first list (of runs, or events): the last item of a page (its time, its id).</summary>
internal static class RunCursor
{
    public static string After(DateTimeOffset createdAt, string id) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{createdAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)}:{id}"));

    /// <exception cref="ArgumentException">The cursor is not one this API gave.</exception>
    public static (DateTimeOffset? CreatedAt, string? Id) Parse(string cursor)
    {
        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && colon < text.Length - 1 && long.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            {
                return (DateTimeOffset.FromUnixTimeMilliseconds(ms), text[(colon + 1)..]);
            }
        }
        catch (Exception ex) when (ex is FormatException or ArgumentOutOfRangeException)
        {
            // Reported below.
        }

        throw new ArgumentException($"The cursor '{cursor}' is not valid; pass the nextCursor of a previous page.", nameof(cursor));
    }
}

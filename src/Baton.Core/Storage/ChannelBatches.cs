using System.Threading.Channels;

namespace Baton.Storage;

/// <summary>Reads a channel in batches: waits for one item, then takes every item already waiting, up to a limit.</summary>
internal static class ChannelBatches
{
    /// <summary>
    /// Yields batches until the channel completes. The same list is reused between batches: use it before asking for
    /// the next. This is how the group-commit writers gather the writes that share one transaction.
    /// </summary>
    public static async IAsyncEnumerable<List<T>> ReadBatchesAsync<T>(this ChannelReader<T> reader, int maxBatch)
    {
        var batch = new List<T>(maxBatch);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < maxBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            yield return batch;
        }
    }
}

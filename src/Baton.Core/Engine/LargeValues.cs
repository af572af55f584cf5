using System.Globalization;
using System.IO.Compression;
using System.Text;
using Baton.Storage;

namespace Baton.Engine;

/// <summary>
/// Step results and run outputs too large for the hot tables: stored compressed (Brotli) in <c>large_values</c> under a
/// new id, and replaced in the journal or run by a reference. A reference starts with a control character, which no
/// JSON text can, so it is never mistaken for a value.
/// </summary>
internal sealed class LargeValues(BatonEngine engine)
{
    private const string Prefix = "\u0001baton-large-value:";

    /// <summary>What <see cref="ShrinkAsync"/> shrinks, for its error: a step's result, a batch's results, a run's output.</summary>
    public static readonly CompositeFormat StepResult = CompositeFormat.Parse("The result of step '{0}'");
    public static readonly CompositeFormat StepResults = CompositeFormat.Parse("The results of step '{0}'");
    public static readonly CompositeFormat RunOutput = CompositeFormat.Parse("The output of run '{0}'");

    /// <summary>The id and size of a stored value, when <paramref name="stored"/> is a reference.</summary>
    public static bool TryParse(string? stored, out string id, out long bytes)
    {
        id = "";
        bytes = 0;
        if (stored is null || !stored.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var colon = stored.LastIndexOf(':');
        id = stored[Prefix.Length..colon];
        bytes = long.Parse(stored.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture);
        return true;
    }

    /// <summary>
    /// What to store for <paramref name="json"/>: itself, or a reference to it stored out of line when it is larger
    /// than <see cref="BatonOptions.LargeValueBytes"/>, owned by (deleted with) run <paramref name="runId"/>.
    /// </summary>
    /// <param name="runId">The run that owns the value.</param>
    /// <param name="json">The value.</param>
    /// <param name="what">What the value is, for the error when it is too large: <c>{0}</c> stands for <paramref name="name"/>.
    /// The text is built only then (a step's result is shrunk at every step).</param>
    /// <param name="name">The step or run the value belongs to.</param>
    /// <exception cref="PayloadTooLargeException">It is larger than <see cref="BatonOptions.MaxValueBytes"/>.</exception>
    public async ValueTask<string> ShrinkAsync(string runId, string json, CompositeFormat what, string name)
    {
        if (json.Length <= Math.Min(engine.Options.LargeValueBytes, engine.Options.MaxValueBytes) / 3)
        {
            return json; // at most 3 UTF-8 bytes per char: below both limits whatever it holds
        }

        var bytes = Encoding.UTF8.GetByteCount(json);
        if (bytes > engine.Options.MaxValueBytes)
        {
            throw new PayloadTooLargeException(string.Format(CultureInfo.InvariantCulture, what, name), bytes, engine.Options.MaxValueBytes, "BatonOptions.MaxValueBytes",
                "Return less (or store it elsewhere and return a reference), or raise the limit.");
        }

        if (bytes <= engine.Options.LargeValueBytes)
        {
            return json;
        }

        return await StoreAsync(runId, Compress(json), bytes, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>The JSON <paramref name="stored"/> stands for: itself, or the value it refers to, read now.</summary>
    /// <exception cref="BatonException">The value it refers to is gone (deleted with its run by history retention).</exception>
    public async Task<string?> ExpandAsync(string? stored, CancellationToken cancellationToken)
    {
        if (!TryParse(stored, out var id, out _))
        {
            return stored;
        }

        return await ReadAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A reference for run <paramref name="runId"/> to a copy of the value <paramref name="stored"/> refers to (or it, when inline).</summary>
    /// <remarks>A rerun's journal starts as a copy of another run's; values are deleted with their own run, so each run gets its own copy.</remarks>
    public async Task<string?> CopyAsync(string? stored, string runId, CancellationToken cancellationToken)
    {
        if (!TryParse(stored, out var id, out var bytes))
        {
            return stored;
        }

        return await StoreAsync(runId, await LoadAsync(id, cancellationToken).ConfigureAwait(false), bytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores out of line the data of each event larger than <see cref="BatonOptions.LargeValueBytes"/>: one copy owned by
    /// the event (the events table refers to it, and it goes with the event) and one owned by each run the event starts
    /// (its input refers to it, and it goes with the run). Returns the appends with what storage must write.
    /// </summary>
    public async Task<IReadOnlyList<EventAppend>> StoreEventsAsync(IReadOnlyList<EventAppend> appends, CancellationToken cancellationToken)
    {
        if (!appends.Any(a => IsLarge(a.Event.DataJson)))
        {
            return appends;
        }

        var stores = new List<Task>();
        string Store(string ownerId, byte[] compressed, long bytes)
        {
            var id = Ids.New(engine.Time);
            stores.Add(engine.Storage.Runs.StoreLargeValueAsync(id, ownerId, compressed, bytes, cancellationToken));
            return LargeEventData.Reference(id, bytes);
        }

        var stored = appends.Select(append =>
        {
            if (!IsLarge(append.Event.DataJson))
            {
                return append;
            }

            var bytes = Encoding.UTF8.GetByteCount(append.Event.DataJson);
            var compressed = Compress(append.Event.DataJson);
            var record = append.Event with { StoredDataJson = Store(append.Event.Id, compressed, bytes) };
            return new EventAppend(record, [.. append.Runs.Select(run => run with
            {
                StoredInputJson = EventJson.ToInput(append.Event with { DataJson = Store(run.Id, compressed, bytes) }),
            })]);
        }).ToList();
        await Task.WhenAll(stores).ConfigureAwait(false);
        return stored;
    }

    /// <summary>A run whose input holds events with large data, with that data stored out of line (owned by the run).</summary>
    public async Task<NewRun> StoreInputAsync(NewRun run, CancellationToken cancellationToken)
    {
        if (run.InputJson.Length <= engine.Options.LargeValueBytes / 3)
        {
            return run; // at most 3 UTF-8 bytes per char: no event in it is large
        }

        var events = EventJson.ReadAll(run.InputJson);
        if (!events.Any(e => IsLarge(e.Data.GetRawText())))
        {
            return run;
        }

        var stored = new List<EventRecord>();
        foreach (var (id, name, timestamp, data, _) in events)
        {
            var json = data.GetRawText();
            var record = new EventRecord(id, name, json, timestamp, timestamp);
            if (IsLarge(json))
            {
                var bytes = Encoding.UTF8.GetByteCount(json);
                record = record with { DataJson = LargeEventData.Reference(await StoreIdAsync(run.Id, Compress(json), bytes, cancellationToken).ConfigureAwait(false), bytes) };
            }

            stored.Add(record);
        }

        return run with { StoredInputJson = EventJson.ToInput(stored) };
    }

    /// <summary>
    /// <paramref name="json"/> (a run's input, or a wait's result: one event) with each event's data stored out of line
    /// read back in.
    /// </summary>
    /// <exception cref="BatonException">A value is gone (deleted with its run or event by history retention).</exception>
    public async Task<string> ExpandEventsAsync(string json, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (id, _) in LargeEventData.References(json))
        {
            values[id] = await ReadAsync(id, cancellationToken).ConfigureAwait(false);
        }

        return values.Count == 0 ? json : LargeEventData.Rewrite(json, (id, _) => values[id]);
    }

    /// <summary>
    /// A run's input (or a wait's result) for a new run <paramref name="runId"/>: each value it refers to copied for the
    /// new run.
    /// </summary>
    public async Task<string> CopyEventsAsync(string storedInput, string runId, CancellationToken cancellationToken)
    {
        var copies = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (id, bytes) in LargeEventData.References(storedInput))
        {
            var compressed = await LoadAsync(id, cancellationToken).ConfigureAwait(false);
            copies[id] = await StoreIdAsync(runId, compressed, bytes, cancellationToken).ConfigureAwait(false);
        }

        return copies.Count == 0 ? storedInput : LargeEventData.Rewrite(storedInput, (id, bytes) => LargeEventData.Reference(copies[id], bytes));
    }

    /// <summary>Whether event data is stored out of line.</summary>
    private bool IsLarge(string dataJson) =>
        dataJson.Length > engine.Options.LargeValueBytes / 3 && Encoding.UTF8.GetByteCount(dataJson) > engine.Options.LargeValueBytes;

    private async Task<string> StoreIdAsync(string runId, byte[] compressed, long bytes, CancellationToken cancellationToken)
    {
        var id = Ids.New(engine.Time);
        await engine.Storage.Runs.StoreLargeValueAsync(id, runId, compressed, bytes, cancellationToken).ConfigureAwait(false);
        return id;
    }

    /// <summary>Stores a compressed value under a new id for <paramref name="runId"/> and returns the reference to it.</summary>
    private async Task<string> StoreAsync(string runId, byte[] compressed, long bytes, CancellationToken cancellationToken)
    {
        var id = await StoreIdAsync(runId, compressed, bytes, cancellationToken).ConfigureAwait(false);
        return $"{Prefix}{id}:{bytes.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>The JSON stored under <paramref name="id"/>.</summary>
    /// <exception cref="BatonException">It is gone.</exception>
    public async Task<string> ReadAsync(string id, CancellationToken cancellationToken) =>
        Decompress(await LoadAsync(id, cancellationToken).ConfigureAwait(false));

    private async Task<byte[]> LoadAsync(string id, CancellationToken cancellationToken) =>
        await engine.Storage.Runs.LoadLargeValueAsync(id, cancellationToken).ConfigureAwait(false) ?? throw Gone(id);

    /// <summary>The error for a reference whose value was deleted (with the run or event that owned it, by history retention).</summary>
    internal static BatonException Gone(string id) =>
        new($"The large value '{id}' is gone: it was deleted with the run or event that held it (history retention).");

    private static byte[] Compress(string json)
    {
        using var output = new MemoryStream();
        using (var brotli = new BrotliStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            brotli.Write(Encoding.UTF8.GetBytes(json));
        }

        return output.ToArray();
    }

    internal static string Decompress(byte[] compressed)
    {
        using var brotli = new BrotliStream(new MemoryStream(compressed), CompressionMode.Decompress);
        using var reader = new StreamReader(brotli, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}

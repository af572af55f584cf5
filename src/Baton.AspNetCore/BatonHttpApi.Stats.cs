using Microsoft.AspNetCore.Http;

namespace Baton.AspNetCore;

public static partial class BatonHttpApi
{
    /// <summary>The most runs a function's health is computed from: the newest of its window.</summary>
    private const int StatsMaxRuns = 5000;

    /// <summary>
    /// A function's recent health over <c>?hours=</c> (default 24, at most 168): runs by outcome, failure rate, p50/p95
    /// duration of its ended runs (first start to end), and runs per hour. Read from at most the newest
    /// <see cref="StatsMaxRuns"/> runs of the window (<c>sampled</c> says when the window held more).
    /// </summary>
    private static async Task<IResult> FunctionStatsAsync(string id, HttpRequest request, IBatonClient client, TimeProvider time, CancellationToken cancellationToken)
    {
        var hours = QueryNumber(request, "hours", 24, n => n is >= 1 and <= 168, "a number of hours from 1 to 168");
        if ((await client.ListFunctionsAsync(cancellationToken).ConfigureAwait(false)).All(f => f.Id != id))
        {
            return NotFound($"There is no function with id '{id}'.");
        }

        var to = time.GetUtcNow();
        var from = to - TimeSpan.FromHours(hours);
        var runs = new List<RunInfo>();
        string? cursor = null;
        do
        {
            var page = await client.ListRunsAsync(new RunQuery { FunctionId = id, From = from, Limit = 1000, Cursor = cursor }, cancellationToken).ConfigureAwait(false);
            runs.AddRange(page.Runs);
            cursor = page.NextCursor;
        }
        while (cursor is not null && runs.Count < StatsMaxRuns);

        static bool Failed(RunInfo r) => r.Status is RunStatus.Failed or RunStatus.TimedOut or RunStatus.Expired;
        var durations = runs.Where(r => r.StartedAt is not null && r.EndedAt is not null)
            .Select(r => (r.EndedAt!.Value - r.StartedAt!.Value).TotalMilliseconds).Order().ToList();
        var ended = runs.Count(r => r.Status.IsTerminal());
        var perHour = new (int Runs, int Failed)[hours];
        foreach (var run in runs)
        {
            var hour = Math.Clamp((int)(run.CreatedAt - from).TotalHours, 0, hours - 1);
            perHour[hour] = (perHour[hour].Runs + 1, perHour[hour].Failed + (Failed(run) ? 1 : 0));
        }

        return Results.Json(new
        {
            functionId = id,
            from,
            to,
            sampled = cursor is not null,
            runs = runs.Count,
            byStatus = runs.GroupBy(r => r.Status.ToWireName()).ToDictionary(g => g.Key, g => g.Count()),
            failureRate = ended == 0 ? 0 : (double)runs.Count(Failed) / ended,
            p50Ms = Percentile(durations, 0.50),
            p95Ms = Percentile(durations, 0.95),
            perHour = perHour.Select((bucket, hour) => new { at = from + TimeSpan.FromHours(hour), runs = bucket.Runs, failed = bucket.Failed }),
        });
    }

    /// <summary>The nearest-rank percentile of sorted values, or null when there are none.</summary>
    private static double? Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}

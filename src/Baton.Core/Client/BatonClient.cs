using System.Text.Json;
using Baton.Engine;
using Baton.Storage;

namespace Baton;

/// <summary>The in-process client: writes straight to storage and wakes the local worker.</summary>
internal sealed class BatonClient(BatonEngine engine) : IBatonClient
{
    public Task<SendResult> SendAsync(BatonEvent @event, CancellationToken cancellationToken = default) =>
        engine.SendAsync([@event], cancellationToken);

    public Task<SendResult> SendAsync(IEnumerable<BatonEvent> events, CancellationToken cancellationToken = default) =>
        engine.SendAsync(events, cancellationToken);

    public Task<string> TriggerAsync(string functionId, object? payload = null, CancellationToken cancellationToken = default) =>
        engine.TriggerAsync(functionId, payload, cancellationToken);

    public async Task<RunInfo?> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        await engine.EnsureStartedAsync().ConfigureAwait(false);
        var run = await engine.Storage.Runs.GetAsync(runId, cancellationToken).ConfigureAwait(false);
        if (run is null)
        {
            return null;
        }

        var steps = await engine.Storage.Runs.GetStepsAsync(runId, cancellationToken).ConfigureAwait(false);
        return ToInfo(run, steps);
    }

    public async Task<RunInfo> WaitForRunAsync(string runId, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        if (timeout < TimeSpan.Zero && timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must not be negative (or Timeout.InfiniteTimeSpan).");
        }

        var now = engine.Time.GetUtcNow();
        var deadline = timeout == System.Threading.Timeout.InfiniteTimeSpan || timeout >= DateTimeOffset.MaxValue - now
            ? DateTimeOffset.MaxValue
            : now + timeout;
        while (true)
        {
            var completion = engine.Completions.WaitAsync(runId);
            try
            {
                var run = await GetRunAsync(runId, cancellationToken).ConfigureAwait(false)
                    ?? throw new KeyNotFoundException($"There is no run with id '{runId}'.");
                if (run.Status.IsTerminal())
                {
                    return run;
                }

                var remaining = deadline - engine.Time.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                {
                    throw new TimeoutException($"Run '{runId}' did not end within {timeout}; it is {run.Status.ToWireName()}.");
                }

                // Runs executed by this process signal their end; runs elsewhere are polled.
                var poll = remaining < engine.Options.PollInterval ? remaining : engine.Options.PollInterval;
                await Task.WhenAny(completion, Task.Delay(poll, engine.Time, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }
            finally
            {
                engine.Completions.Forget(runId, completion);
            }
        }
    }

    private static RunInfo ToInfo(RunRecord run, IReadOnlyList<StepRecord> steps)
    {
        using var input = JsonDocument.Parse(run.InputJson);
        return new RunInfo
        {
            Id = run.Id,
            FunctionId = run.FunctionId,
            Status = run.Status,
            Event = input.RootElement[0].Clone(),
            Output = ParseOrNull(run.OutputJson),
            Error = run.Error,
            Attempt = run.StartedAt is null ? 0 : run.Attempt + 1,
            CreatedAt = run.CreatedAt,
            StartedAt = run.StartedAt,
            EndedAt = run.EndedAt,
            Steps = [.. steps.Select(s => new StepInfo
            {
                Id = s.Key,
                Kind = s.Kind,
                Status = s.Status,
                Attempts = s.Attempts,
                Output = ParseOrNull(s.OutputJson),
                Error = s.Error,
                StartedAt = s.StartedAt,
                EndedAt = s.EndedAt,
                WakeAt = s.WakeAt,
            })],
        };
    }

    private static JsonElement? ParseOrNull(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}

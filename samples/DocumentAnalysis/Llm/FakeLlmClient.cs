using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace DocumentAnalysis.Llm;

/// <summary>
/// A deterministic local stand-in for the LLM: it summarizes a text by its statistics, and for about one document in
/// three it fails its first attempt with an "overloaded" error, as real LLM APIs do under load, so Baton's step retries
/// can be watched.
/// </summary>
public sealed class FakeLlmClient : ILlmClient
{
    public async Task<string> AnalyzeAsync(string text, Baton.StepExecution step, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(step);

        // A little latency, like a real call.
        await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(step.IdempotencyKey));
        if (step.Attempt == 1 && digest[0] % 3 == 0)
        {
            throw new HttpRequestException("529 overloaded_error: the (fake) LLM is overloaded; try again");
        }

        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var top = words
            .Select(w => w.Trim('.', ',', ';', ':', '!', '?', '"', '(', ')').ToLowerInvariant())
            .Where(w => w.Length > 4)
            .GroupBy(w => w)
            .OrderByDescending(g => g.Count())
            .ThenBy(g => g.Key, StringComparer.Ordinal)
            .Take(5)
            .Select(g => g.Key);
        var firstSentence = text.Split('.', 2)[0].Trim();
        return string.Create(CultureInfo.InvariantCulture,
            $"Summary (local fake model): {words.Length} words. Opens with: \"{firstSentence}\". Key terms: {string.Join(", ", top)}.");
    }
}

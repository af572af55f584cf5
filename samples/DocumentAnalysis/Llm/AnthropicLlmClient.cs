using System.Net;
using System.Text.Json;
using Baton;

namespace DocumentAnalysis.Llm;

/// <summary>Calls Anthropic's Messages API. Used when <c>ANTHROPIC_API_KEY</c> is set.</summary>
public sealed class AnthropicLlmClient(HttpClient http, string apiKey, string model) : ILlmClient
{
    public async Task<string> AnalyzeAsync(string text, StepExecution step, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(step);
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://api.anthropic.com/v1/messages")
        {
            Content = JsonContent.Create(new
            {
                model,
                max_tokens = 2000,
                messages = new[] { new { role = "user", content = $"Analyze this document. Give a short summary and its key points.\n\n{text}" } },
            }),
        };
        request.Headers.Add("x-api-key", apiKey);
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.TooManyRequests && response.Headers.RetryAfter?.Delta is { } wait)
        {
            throw new RetryAfterException($"Anthropic rate limit (429); retry after {wait}", wait);
        }

        if ((int)response.StatusCode is >= 400 and < 500 and not 408 and not 409 and not 429)
        {
            // A bad request or key will not get better by retrying.
            throw new NonRetriableException($"Anthropic refused the request: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        response.EnsureSuccessStatusCode();
        using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        return string.Concat(body.RootElement.GetProperty("content").EnumerateArray()
            .Where(block => block.GetProperty("type").GetString() == "text")
            .Select(block => block.GetProperty("text").GetString()));
    }
}

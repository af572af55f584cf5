using System.Text.Json;
using Baton;

namespace DocumentAnalysis.Llm;

/// <summary>Calls Anthropic's Messages API through a client with Baton's provider-aware retries. Used when <c>ANTHROPIC_API_KEY</c> is set.</summary>
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

        // The client's ProviderRetryHandler (AddBatonRetries) turns a refusal into the right retry: 429/529 with
        // retry-after at that time, 5xx with the step's backoff, a bad request or key never.
        using var response = await http.SendAsync(request, cancellationToken);
        using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        return string.Concat(body.RootElement.GetProperty("content").EnumerateArray()
            .Where(block => block.GetProperty("type").GetString() == "text")
            .Select(block => block.GetProperty("text").GetString()));
    }
}

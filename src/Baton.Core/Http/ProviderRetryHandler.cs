using System.Globalization;

namespace Baton.Http;

/// <summary>
/// An <see cref="HttpClient"/> handler for calls made inside step bodies (LLM providers and other rate-limited APIs): it
/// turns an error answer into the exception that makes Baton retry the step the right way, so user code needs no status
/// checks. 429 and 503 (and Anthropic's 529) with <c>Retry-After</c> (seconds or a date; or <c>retry-after-ms</c>) retry at
/// that time (<see cref="HttpRetryAfterException"/>); 408, 409, 425, 429 and 5xx retry (as the providers' own SDKs do) with the step's backoff
/// (<see cref="HttpRequestException"/> with the status); any other 4xx fails the step without retrying
/// (<see cref="NonRetriableHttpException"/>). Success and redirects pass through.
/// </summary>
/// <remarks>
/// Register it with <c>services.AddHttpClient&lt;T&gt;().AddBatonRetries()</c>, or wrap a handler:
/// <c>new HttpClient(new ProviderRetryHandler { InnerHandler = new SocketsHttpHandler() })</c>. Only use such a
/// client inside steps: outside one, the exceptions surface as the function's own errors.
/// </remarks>
public sealed class ProviderRetryHandler : DelegatingHandler
{
    private const int ExcerptChars = 1000;
    private readonly TimeProvider _time;

    /// <summary>Creates the handler; <paramref name="time"/> dates <c>Retry-After</c> delays (default: the system clock).</summary>
    public ProviderRetryHandler(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        if (status < 400)
        {
            return response;
        }

        using (response)
        {
            var excerpt = await ExcerptAsync(response, cancellationToken).ConfigureAwait(false);
            var what = $"{request.Method} {request.RequestUri?.GetLeftPart(UriPartial.Path)} answered {status} {response.ReasonPhrase}{(excerpt.Length > 0 ? ": " + excerpt : "")}";
            if (status is 429 or 503 or 529 && RetryAt(response) is { } retryAt)
            {
                throw new HttpRetryAfterException($"{what} (retry at {retryAt:O}, as its Retry-After says)", retryAt, response.StatusCode);
            }

            if (status is 408 or 409 or 425 or 429 || status >= 500)
            {
                throw new HttpRequestException(what, null, response.StatusCode);
            }

            throw new NonRetriableHttpException(what, response.StatusCode);
        }
    }

    /// <summary>When the server asks to be called again: <c>retry-after-ms</c>, or <c>Retry-After</c> as seconds or a date.</summary>
    private DateTimeOffset? RetryAt(HttpResponseMessage response)
    {
        var now = _time.GetUtcNow();
        if (response.Headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var milliseconds) && milliseconds >= 0)
        {
            return now + TimeSpan.FromMilliseconds(milliseconds);
        }

        return response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => now + (delta < TimeSpan.Zero ? TimeSpan.Zero : delta),
            { Date: { } date } => date < now ? now : date,
            _ => null,
        };
    }

    private static async Task<string> ExcerptAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            text = text.ReplaceLineEndings(" ").Trim();
            return text.Length > ExcerptChars ? text[..ExcerptChars] + "…" : text;
        }
        catch (HttpRequestException)
        {
            return "";
        }
    }
}

using System.Net;

namespace Baton.Http;

/// <summary>An HTTP call inside a step was told to come back later (429/503 with <c>Retry-After</c>): the step retries then.</summary>
public sealed class HttpRetryAfterException(string message, DateTimeOffset retryAt, HttpStatusCode statusCode) : RetryAfterException(message, retryAt)
{
    /// <summary>The answer's status.</summary>
    public HttpStatusCode StatusCode { get; } = statusCode;
}

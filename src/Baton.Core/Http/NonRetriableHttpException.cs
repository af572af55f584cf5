using System.Net;

namespace Baton.Http;

/// <summary>An HTTP call inside a step was refused with a status that retrying cannot fix (a 4xx other than 408, 409, 425, 429).</summary>
public sealed class NonRetriableHttpException(string message, HttpStatusCode statusCode) : NonRetriableException(message)
{
    /// <summary>The answer's status.</summary>
    public HttpStatusCode StatusCode { get; } = statusCode;
}

using Baton.Http;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="ProviderRetryHandler"/> on a typed or named <see cref="System.Net.Http.HttpClient"/>.</summary>
public static class BatonHttpClientBuilderExtensions
{
    /// <summary>
    /// Maps the client's error answers to Baton's step retries: 429/503 with <c>Retry-After</c> retry at that time, 5xx
    /// retry with backoff, other 4xx fail the step without retrying. For clients used inside step bodies.
    /// </summary>
    public static IHttpClientBuilder AddBatonRetries(this IHttpClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddHttpMessageHandler(services => new ProviderRetryHandler(services.GetService<TimeProvider>()));
    }
}

using Baton;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Baton to a service collection.</summary>
public static class BatonServiceCollectionExtensions
{
    /// <summary>
    /// Adds Baton: the engine, the worker (a hosted service), the <see cref="IBatonClient"/>, and the functions and
    /// storage configured in <paramref name="configure"/>. Without a storage choice Baton runs embedded on
    /// <c>baton.db</c>, a SQLite file in the app's content root.
    /// </summary>
    /// <remarks>Functions and options are validated when the host starts; every problem is reported in one exception.</remarks>
    public static BatonBuilder AddBaton(this IServiceCollection services, Action<BatonBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = BatonServices.AddCore(services);
        if (!services.Any(d => d.ServiceType == typeof(Baton.Storage.IBatonStorage)))
        {
            builder.UseSqlite();
        }

        configure?.Invoke(builder);
        return builder;
    }
}

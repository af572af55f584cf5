using Baton.Engine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton;

/// <summary>Registers the engine's services; called by <c>AddBaton</c>.</summary>
internal static class BatonServices
{
    public static BatonBuilder AddCore(IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(BatonEngine)))
        {
            services.AddOptions<BatonOptions>();
            services.TryAddSingleton(TimeProvider.System);
            services.TryAddSingleton<ILoggerFactory, NullLoggerFactory>();
            services.AddSingleton<BatonEngine>();
            services.AddSingleton<IBatonClient, BatonClient>();
            services.AddSingleton<BatonWorker>();
            services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<BatonWorker>());
        }

        return new BatonBuilder(services);
    }
}

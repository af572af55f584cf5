using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Baton.Benchmarks;

/// <summary>A Baton host for one measurement: a fresh SQLite file or PostgreSQL schema, its functions, started.</summary>
public sealed class BatonNode : IAsyncDisposable
{
    private readonly IHost _host;

    private BatonNode(IHost host) => _host = host;

    public IBatonClient Client => _host.Services.GetRequiredService<IBatonClient>();

    public static async Task<BatonNode> StartAsync(BenchEnvironment environment, BenchStorage storage, string database, Action<BatonBuilder> functions, bool runWorker = true, Action<BatonOptions>? options = null)
    {
        // No defaults: the default configuration watches the working directory for changes, a cost the measurement need not carry.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Error);
        builder.Services.AddBaton(b =>
        {
            if (storage == BenchStorage.Sqlite)
            {
                b.UseSqlite(Path.Combine(environment.WorkDirectory, database + ".db"));
            }
            else
            {
                b.UsePostgreSql(environment.PostgresConnectionString!, o => o.Schema = database);
            }

            b.Configure(o =>
            {
                o.RunWorker = runWorker;
                options?.Invoke(o);
            });
            functions(b);
        });
        var host = builder.Build();
        await host.StartAsync();
        return new BatonNode(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Infrastructure;

/// <summary>A real generic host running Baton on a real storage (a SQLite file or a PostgreSQL schema).</summary>
public sealed class TestHost : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly IHost _host;
    private readonly bool _ownsStorage;
    private bool _stopped;

    private TestHost(IHost host, TestStorage storage, bool ownsStorage)
    {
        _host = host;
        Storage = storage;
        _ownsStorage = ownsStorage;
    }

    public IBatonClient Client => _host.Services.GetRequiredService<IBatonClient>();

    public IServiceProvider Services => _host.Services;

    /// <summary>The storage the host runs on, readable with SQL.</summary>
    public TestStorage Storage { get; }

    /// <summary>
    /// Builds and starts a host. Pass a <paramref name="storage"/> to share it between hosts (restarts, several nodes);
    /// the caller then disposes it. Without one the host gets a SQLite file of its own.
    /// </summary>
    public static async Task<TestHost> StartAsync(
        Action<BatonBuilder> configure,
        TestStorage? storage = null,
        TimeProvider? time = null,
        Action<BatonOptions>? options = null,
        Action<IServiceCollection>? services = null,
        bool ownsStorage = false)
    {
        var owned = storage is null || ownsStorage;
        storage ??= new SqliteTestStorage();
        var host = Build(configure, storage, time, options, services);
        try
        {
            await host.StartAsync().WaitAsync(Timeout);
        }
        catch
        {
            host.Dispose();
            if (owned)
            {
                storage.Dispose();
            }

            throw;
        }

        return new TestHost(host, storage, owned);
    }

    /// <summary>Builds a host without starting it, for tests of start-up validation.</summary>
    public static IHost Build(
        Action<BatonBuilder> configure,
        TestStorage storage,
        TimeProvider? time = null,
        Action<BatonOptions>? options = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = Path.GetTempPath(),
            EnvironmentName = "Testing",
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }

        services?.Invoke(builder.Services);
        builder.Services.AddBaton(b =>
        {
            storage.Configure(b);
            b.Configure(o =>
            {
                o.PollInterval = TimeSpan.FromMilliseconds(200);
                options?.Invoke(o);
            });
            configure(b);
        });
        return builder.Build();
    }

    public Task<RunInfo> WaitAsync(string runId) => Client.WaitForRunAsync(runId, Timeout).WaitAsync(Timeout);

    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _host.StopAsync().WaitAsync(Timeout);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _host.Dispose();
        if (_ownsStorage)
        {
            Storage.Dispose();
        }
    }

    /// <summary>
    /// Advances a fake clock by <paramref name="jump"/>, then a second at a time (well under the lease, so no run that
    /// is executing loses its lease), until <paramref name="condition"/> holds (real-time timeout).
    /// </summary>
    public static async Task AdvanceUntilAsync(FakeTimeProvider time, TimeSpan jump, Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        time.Advance(jump);
        var step = TimeSpan.FromSeconds(1);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not hold within the test timeout.");
            }

            time.Advance(step);
            await Task.Yield();
            await Task.Delay(5);
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds (real-time timeout).</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string because)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {because}.");
            }

            await Task.Delay(10);
        }
    }

    public async Task<RunStatus> StatusAsync(string runId) => (await Client.GetRunAsync(runId))!.Status;
}

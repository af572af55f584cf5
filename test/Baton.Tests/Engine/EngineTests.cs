using Baton.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Baton.Tests.Engine;

/// <summary>
/// Base of the engine tests, which run once per storage provider: each test class nests an <c>OnSqlite</c> and an
/// <c>OnPostgreSql</c> subclass that supply the storage.
/// </summary>
public abstract class EngineTests
{
    /// <summary>A fresh, empty storage of this class's provider.</summary>
    protected abstract TestStorage NewStorage();

    /// <summary>Starts a host on <paramref name="storage"/> (shared, disposed by the caller) or on a fresh storage of its own.</summary>
    protected Task<TestHost> StartAsync(
        Action<BatonBuilder> configure,
        TestStorage? storage = null,
        TimeProvider? time = null,
        Action<BatonOptions>? options = null,
        Action<IServiceCollection>? services = null) =>
        TestHost.StartAsync(configure, storage ?? NewStorage(), time, options, services, ownsStorage: storage is null);

    protected static IHost Build(
        Action<BatonBuilder> configure,
        TestStorage storage,
        TimeProvider? time = null,
        Action<BatonOptions>? options = null) =>
        TestHost.Build(configure, storage, time, options);
}

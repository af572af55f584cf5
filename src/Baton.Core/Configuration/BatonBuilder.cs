using Baton.Engine;
using Baton.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Baton;

/// <summary>Configures Baton: functions, storage and options. Returned by <c>services.AddBaton(...)</c> for chaining.</summary>
public sealed class BatonBuilder
{
    internal BatonBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection Baton registers into.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Configures <see cref="BatonOptions"/>.</summary>
    public BatonBuilder Configure(Action<BatonOptions> configure)
    {
        Services.Configure(configure);
        return this;
    }

    /// <summary>Uses a storage provider built from the service provider (providers call this from <c>UseSqlite</c> and the like).</summary>
    public BatonBuilder UseStorage(Func<IServiceProvider, IBatonStorage> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.Replace(ServiceDescriptor.Singleton(factory));
        return this;
    }

    /// <summary>
    /// Registers a function written as a class implementing <see cref="IBatonFunction{TEvent}"/> or
    /// <see cref="IBatonFunction{TEvent, TResult}"/>. The class is constructed from DI (scoped to the run) for each execution.
    /// </summary>
    /// <param name="id">The stable id, persisted with every run: letters, digits, '.', '_' and '-'.</param>
    /// <param name="configure">Triggers, retries, backoff, failure handler.</param>
    public BatonBuilder AddFunction<TFunction>(string id, Action<FunctionOptions>? configure = null)
        where TFunction : class
    {
        var options = NewOptions(configure);
        var (invoker, eventType) = FunctionInvoker.ForClass(typeof(TFunction));
        if (typeof(IBatonFailureHandler).IsAssignableFrom(typeof(TFunction)) && options.OnFailure is null)
        {
            options.OnFailure = ctx => ((IBatonFailureHandler)ctx.Services.GetRequiredService(typeof(TFunction))).OnFailureAsync(ctx);
        }

        Services.TryAddScoped<TFunction>();
        Services.AddSingleton(new FunctionDescriptor(id, options, typeof(TFunction), invoker, eventType ?? typeof(object), typeof(TFunction).FullName ?? typeof(TFunction).Name));
        return this;
    }

    /// <summary>Registers a function written as a lambda that returns nothing.</summary>
    /// <typeparam name="TEvent">The triggering event's payload type.</typeparam>
    public BatonBuilder AddFunction<TEvent>(string id, Action<FunctionOptions>? configure, Func<FunctionContext<TEvent>, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return AddLambda<TEvent>(id, configure, async ctx =>
        {
            await handler(ctx).ConfigureAwait(false);
            return null;
        });
    }

    /// <summary>Registers a function written as a lambda whose return value is the run's output.</summary>
    /// <typeparam name="TEvent">The triggering event's payload type.</typeparam>
    public BatonBuilder AddFunction<TEvent>(string id, Action<FunctionOptions>? configure, Func<FunctionContext<TEvent>, Task<object?>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return AddLambda(id, configure, handler);
    }

    private BatonBuilder AddLambda<TEvent>(string id, Action<FunctionOptions>? configure, Func<FunctionContext<TEvent>, Task<object?>> handler)
    {
        var options = NewOptions(configure);
        Services.AddSingleton(new FunctionDescriptor(id, options, null, FunctionInvoker.ForLambda(handler), typeof(TEvent), "lambda"));
        return this;
    }

    private static FunctionOptions NewOptions(Action<FunctionOptions>? configure)
    {
        var options = new FunctionOptions();
        configure?.Invoke(options);
        return options;
    }
}

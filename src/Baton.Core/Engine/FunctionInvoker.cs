using System.Reflection;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Engine;

/// <summary>Calls a user's function for one execution: builds its typed context and awaits its body.</summary>
internal sealed class FunctionInvoker(Func<RunExecution, Task<object?>> invoke)
{
    public Task<object?> InvokeAsync(RunExecution execution) => invoke(execution);

    public static FunctionInvoker ForLambda<TEvent>(Func<FunctionContext<TEvent>, Task<object?>> handler) =>
        new(execution => handler(execution.CreateContext<TEvent>()));

    public static FunctionInvoker ForFailureHandler(Func<FailureContext, Task> handler) =>
        new(async execution =>
        {
            await handler(execution.CreateFailureContext()).ConfigureAwait(false);
            return null;
        });

    /// <summary>Finds the function interface a class implements; returns (null, null) when it implements none.</summary>
    public static (FunctionInvoker? Invoker, Type? EventType) ForClass(Type type)
    {
        foreach (var contract in type.GetInterfaces().Where(i => i.IsGenericType))
        {
            var definition = contract.GetGenericTypeDefinition();
            if (definition == typeof(IBatonFunction<>))
            {
                var method = typeof(FunctionInvoker).GetMethod(nameof(ForVoidClass), BindingFlags.NonPublic | BindingFlags.Static)!;
                return ((FunctionInvoker)method.MakeGenericMethod(type, contract.GenericTypeArguments[0]).Invoke(null, null)!, contract.GenericTypeArguments[0]);
            }

            if (definition == typeof(IBatonFunction<,>))
            {
                var method = typeof(FunctionInvoker).GetMethod(nameof(ForResultClass), BindingFlags.NonPublic | BindingFlags.Static)!;
                var args = contract.GenericTypeArguments;
                return ((FunctionInvoker)method.MakeGenericMethod(type, args[0], args[1]).Invoke(null, null)!, args[0]);
            }
        }

        return (null, null);
    }

    private static FunctionInvoker ForVoidClass<TFunction, TEvent>()
        where TFunction : class, IBatonFunction<TEvent> =>
        new(async execution =>
        {
            var function = execution.Services.GetRequiredService<TFunction>();
            await function.RunAsync(execution.CreateContext<TEvent>()).ConfigureAwait(false);
            return null;
        });

    private static FunctionInvoker ForResultClass<TFunction, TEvent, TResult>()
        where TFunction : class, IBatonFunction<TEvent, TResult> =>
        new(async execution =>
        {
            var function = execution.Services.GetRequiredService<TFunction>();
            return await function.RunAsync(execution.CreateContext<TEvent>()).ConfigureAwait(false);
        });
}

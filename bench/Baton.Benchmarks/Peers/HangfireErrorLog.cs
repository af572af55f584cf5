using Hangfire.Logging;

namespace Baton.Benchmarks.Peers;

/// <summary>A Hangfire log provider that writes errors and worse to stderr and drops everything else.</summary>
internal sealed class HangfireErrorLog : ILogProvider, ILog
{
    public ILog GetLogger(string name) => this;

    public bool Log(LogLevel logLevel, Func<string>? messageFunc, Exception? exception = null)
    {
        if (logLevel < LogLevel.Error)
        {
            return false;
        }

        // Hangfire calls with a null message only to ask whether the level is enabled.
        if (messageFunc is not null)
        {
            Console.Error.WriteLine($"hangfire {logLevel}: {messageFunc()}{(exception is null ? "" : Environment.NewLine + exception)}");
        }

        return true;
    }
}

using Baton.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Cli;

/// <summary>A standalone Baton server: the HTTP API and the dashboard over a storage, protected by API keys outside dev mode.</summary>
internal static class BatonServer
{
    /// <exception cref="ArgumentException">The settings are invalid; the message lists every problem.</exception>
    public static WebApplication Build(ServerSettings settings)
    {
        var problems = settings.Problems().ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, problems));
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Limits.MaxRequestBodySize = settings.MaxRequestBytes).UseUrls($"http://{settings.Bind}:{settings.Port}");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddBaton(b =>
        {
            if (settings.Postgres is { } connection)
            {
                b.UsePostgreSql(connection);
            }
            else
            {
                var directory = Path.GetDirectoryName(Path.GetFullPath(settings.SqlitePath!));
                if (directory is not null)
                {
                    Directory.CreateDirectory(directory);
                }

                b.UseSqlite(settings.SqlitePath!);
            }

            b.Configure(o =>
            {
                o.MaxEventBytes = settings.MaxEventBytes;
                o.MaxBatchSize = settings.MaxEventsPerRequest;
            });
        });

        builder.Services.AddOpenApi();
        if (!settings.Dev)
        {
            builder.Services.AddBatonApiKeys(o =>
            {
                foreach (var key in settings.ApiKeys)
                {
                    o.Keys.Add(BatonApiKeys.Parse(key));
                }
            });
        }

        var app = builder.Build();
        app.MapOpenApi();
        app.MapGet("/", () => Results.Redirect("/dashboard/")).ExcludeFromDescription();
        var api = app.MapBaton();
        if (!settings.Dev)
        {
            app.UseAuthentication();
            app.UseAuthorization();
            api.RequireAuthorization(BatonApiKeys.Policy);
        }

        return app;
    }
}

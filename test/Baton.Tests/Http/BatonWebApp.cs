using Baton.AspNetCore;
using Baton.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Tests.Http;

/// <summary>A web app on a free loopback port with Baton's API under <c>/baton</c>, over a test storage.</summary>
public static class BatonWebApp
{
    /// <summary>Starts the app with the functions <paramref name="functions"/> adds; the client's base address is <c>/baton/</c>.</summary>
    public static async Task<(WebApplication App, HttpClient Http)> StartAsync(TestStorage storage, Action<BatonBuilder> functions)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddBaton(b =>
        {
            storage.Configure(b);
            functions(b);
        });
        var app = builder.Build();
        app.MapGroup("/baton").MapBaton();
        await app.StartAsync();
        return (app, new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/baton/"), Timeout = TestHost.Timeout });
    }
}

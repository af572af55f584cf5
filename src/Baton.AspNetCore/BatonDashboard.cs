using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Baton.AspNetCore;

/// <summary>
/// The dashboard: a page and its script and styles, shipped in this assembly, served under <c>dashboard/</c> of the
/// group <c>MapBaton()</c> maps. The page itself holds no data: everything it shows comes from the API, under the
/// API's protection. With API keys, the page signs in by setting an HttpOnly cookie that holds the key.
/// </summary>
internal static class BatonDashboard
{
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private static readonly Dictionary<string, Asset> Assets = LoadAssets();

    public static void MapDashboard(this RouteGroupBuilder group)
    {
        var dashboard = group.MapGroup("/dashboard").AllowAnonymous().ExcludeFromDescription();
        dashboard.MapGet("/", (HttpContext context) =>
            context.Request.Path.Value?.EndsWith('/') == true
                ? Serve(context, Assets["index.html"])
                : Results.Redirect($"{context.Request.PathBase}{context.Request.Path}/"));
        dashboard.MapGet("/{file}", (string file, HttpContext context) =>
            Assets.TryGetValue(file, out var asset) && file != "index.html" ? Serve(context, asset) : Results.NotFound());
        dashboard.MapGet("/session", (HttpContext context) => Results.Json(new { signedIn = context.Request.Cookies.ContainsKey(BatonApiKeys.CookieName) }));
        dashboard.MapPost("/session", SignInAsync);
        dashboard.MapDelete("/session", (HttpContext context) =>
        {
            context.Response.Cookies.Delete(BatonApiKeys.CookieName, CookieOptions(context));
            return Results.NoContent();
        });
    }

    /// <summary>Checks the key against the server's keys and, when it may manage, keeps it in an HttpOnly cookie.</summary>
    private static async Task<IResult> SignInAsync(HttpContext context, CancellationToken cancellationToken)
    {
        // Only the page signs in: a cross-site form cannot send JSON or this header (no one signs a browser in with a key of theirs).
        if (context.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true
            || !context.Request.Headers.ContainsKey(BatonApiKeys.DashboardHeader))
        {
            return Results.Problem(statusCode: 400, title: "Invalid request", detail: $"Sign in with a JSON body {{\"key\": ...}} and the {BatonApiKeys.DashboardHeader} header, as the dashboard does.");
        }

        string? key = null;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, default, cancellationToken).ConfigureAwait(false);
            if (body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("key", out var k) && k.ValueKind == JsonValueKind.String)
            {
                key = k.GetString();
            }
        }
        catch (JsonException)
        {
            // Answered below as a body without a key.
        }

        if (string.IsNullOrWhiteSpace(key))
        {
            return Results.Problem(statusCode: 400, title: "Invalid request", detail: "Send {\"key\": \"<API key>\"}: a key the server was started with.");
        }

        var options = context.RequestServices.GetService<IOptionsMonitor<BatonApiKeyOptions>>()?.Get(BatonApiKeys.Scheme);
        if (options is null || options.Keys.Count == 0)
        {
            return Results.Problem(statusCode: 409, title: "No keys here",
                detail: "This server accepts no API keys (dev mode, or the application signs users in itself); the dashboard needs none.");
        }

        switch (BatonApiKeys.Match(options, key.Trim()))
        {
            case null:
                return Results.Problem(statusCode: 401, title: "Unauthorized", detail: "That key is not one the server was started with.");
            case BatonKeyScope.Events:
                return Results.Problem(statusCode: 403, title: "Forbidden", detail: "That key may only send events; the dashboard needs a management key (one without the 'events:' scope).");
            default:
                context.Response.Cookies.Append(BatonApiKeys.CookieName, key.Trim(), CookieOptions(context));
                return Results.NoContent();
        }
    }

    /// <summary>The cookie is sent only to this group's paths (the dashboard and the API beside it).</summary>
    private static CookieOptions CookieOptions(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        var group = path.EndsWith("/dashboard/session", StringComparison.Ordinal) ? path[..^"/dashboard/session".Length] : "";
        return new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = $"{context.Request.PathBase}{group}" is { Length: > 0 } p ? p : "/",
        };
    }

    private static IResult Serve(HttpContext context, Asset asset)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        return context.Request.Headers.IfNoneMatch.ToString() == asset.ETag
            ? Results.StatusCode(StatusCodes.Status304NotModified)
            : Results.Bytes(asset.Content, asset.ContentType);
    }

    private static Dictionary<string, Asset> LoadAssets()
    {
        var assembly = typeof(BatonDashboard).Assembly;
        const string prefix = "Baton.Dashboard.";
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            var name = resource[prefix.Length..];
            var type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            assets[name] = new Asset(content, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
        }

        return assets.ContainsKey("index.html")
            ? assets
            : throw new InvalidOperationException($"The dashboard's files are missing from {assembly.GetName().Name}; the build embeds them from Dashboard/.");
    }

    private sealed record Asset(byte[] Content, string ContentType, string ETag);
}

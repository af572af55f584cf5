using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Baton.AspNetCore;

/// <summary>What an API key may do: send events only, or everything (send, trigger, read, cancel, replay).</summary>
public enum BatonKeyScope
{
    /// <summary>Send events (<c>POST /api/v1/events</c>) and nothing else: the key to give producers.</summary>
    Events = 0,

    /// <summary>Everything: events, functions, runs.</summary>
    Manage = 1,
}

/// <summary>The API keys a server accepts, with their scopes.</summary>
public sealed class BatonApiKeyOptions : AuthenticationSchemeOptions
{
    /// <summary>The accepted keys and what each may do.</summary>
    public IList<(string Key, BatonKeyScope Scope)> Keys { get; } = [];
}

/// <summary>
/// Bearer API keys for Baton's API: <c>Authorization: Bearer &lt;key&gt;</c>, compared in constant time. Endpoints
/// that only send events need a key of either scope; every other endpoint needs a <see cref="BatonKeyScope.Manage"/> key.
/// </summary>
public static class BatonApiKeys
{
    /// <summary>The authentication scheme's name.</summary>
    public const string Scheme = "BatonApiKey";

    /// <summary>The policy every Baton endpoint is protected by (it reads the endpoint's <see cref="BatonScopeMetadata"/>).</summary>
    public const string Policy = "baton";

    private const string ScopeClaim = "baton:scope";

    /// <summary>Accepts the given keys on Baton's endpoints (apply with <c>MapBaton().RequireAuthorization(BatonApiKeys.Policy)</c>).</summary>
    public static IServiceCollection AddBatonApiKeys(this IServiceCollection services, Action<BatonApiKeyOptions> configure)
    {
        services.AddAuthentication(Scheme).AddScheme<BatonApiKeyOptions, Handler>(Scheme, configure);
        services.AddAuthorizationBuilder().AddPolicy(Policy, policy => policy
            .AddAuthenticationSchemes(Scheme)
            .RequireAuthenticatedUser()
            .AddRequirements(new ScopeRequirement()));
        services.AddSingleton<IAuthorizationHandler, ScopeHandler>();
        return services;
    }

    /// <summary>
    /// Reads keys from <c>--api-key</c> style values: <c>key</c> (manage) or <c>events:key</c> (send events only).
    /// </summary>
    public static (string Key, BatonKeyScope Scope) Parse(string value) =>
        value.StartsWith("events:", StringComparison.Ordinal) ? (value["events:".Length..], BatonKeyScope.Events) : (value, BatonKeyScope.Manage);

    /// <summary>The cookie the dashboard's sign-in sets: the key, HttpOnly and SameSite=Strict.</summary>
    internal const string CookieName = "baton_key";

    /// <summary>The header the dashboard sends with every call (required with the cookie on anything but GET).</summary>
    internal const string DashboardHeader = "X-Baton-Dashboard";

    /// <summary>The scope of the best key matching <paramref name="key"/>, or null when none does.</summary>
    internal static BatonKeyScope? Match(BatonApiKeyOptions options, string key)
    {
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        BatonKeyScope? scope = null;
        foreach (var (known, knownScope) in options.Keys)
        {
            // Every key is compared, each in constant time (of equal-length hashes), so timing tells nothing.
            if (CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(known))) && (scope is null || knownScope > scope))
            {
                scope = knownScope;
            }
        }

        return scope;
    }

    private sealed class Handler(IOptionsMonitor<BatonApiKeyOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<BatonApiKeyOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            string key;
            var header = Request.Headers.Authorization.ToString();
            if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                key = header["Bearer ".Length..].Trim();
            }
            else if (Request.Cookies.TryGetValue(CookieName, out var cookie) && cookie.Length > 0)
            {
                // A browser sends the dashboard's cookie with any request to this site, so a request that changes
                // something must also carry a header that a cross-site form cannot set (and a cross-site script only
                // after a CORS preflight this API never grants).
                if (!HttpMethods.IsGet(Request.Method) && !HttpMethods.IsHead(Request.Method) && !Request.Headers.ContainsKey(DashboardHeader))
                {
                    return Task.FromResult(AuthenticateResult.Fail($"A request authenticated by the dashboard's cookie must carry the {DashboardHeader} header."));
                }

                key = cookie;
            }
            else
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            return Task.FromResult(Match(Options, key) is { } granted
                ? AuthenticateResult.Success(new AuthenticationTicket(
                    new ClaimsPrincipal(new ClaimsIdentity([new Claim(ScopeClaim, granted.ToString())], BatonApiKeys.Scheme)), BatonApiKeys.Scheme))
                : AuthenticateResult.Fail("The API key is not valid."));
        }

        protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
        {
            var failure = (await HandleAuthenticateOnceSafeAsync().ConfigureAwait(false)).Failure?.Message;
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            Response.Headers.WWWAuthenticate = "Bearer";
            await Results.Problem(statusCode: 401, title: "Unauthorized",
                detail: $"{(failure is null ? "" : failure + " ")}Send an API key as 'Authorization: Bearer <key>' (the keys the server was started with).").ExecuteAsync(Context).ConfigureAwait(false);
        }

        protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
        {
            Response.StatusCode = StatusCodes.Status403Forbidden;
            await Results.Problem(statusCode: 403, title: "Forbidden",
                detail: "This API key may only send events; managing functions and runs needs a key without the 'events:' scope.").ExecuteAsync(Context).ConfigureAwait(false);
        }
    }

    private sealed class ScopeRequirement : IAuthorizationRequirement;

    private sealed class ScopeHandler : AuthorizationHandler<ScopeRequirement>
    {
        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
        {
            var needed = (context.Resource as HttpContext)?.GetEndpoint()?.Metadata.GetMetadata<BatonScopeMetadata>()?.Scope ?? BatonKeyScope.Manage;
            if (Enum.TryParse<BatonKeyScope>(context.User.FindFirst(ScopeClaim)?.Value, out var granted) && granted >= needed)
            {
                context.Succeed(requirement);
            }

            return Task.CompletedTask;
        }
    }
}

/// <summary>The scope a Baton endpoint needs; endpoints without it need <see cref="BatonKeyScope.Manage"/>.</summary>
public sealed record BatonScopeMetadata(BatonKeyScope Scope);

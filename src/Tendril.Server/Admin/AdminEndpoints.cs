using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Tendril.Server.Hosting;
using Tendril.Storage;

namespace Tendril.Server.Admin;

/// <summary>
/// The admin page (<c>/admin</c>, server-rendered HTML, forms posting back with a CSRF token) and the JSON API
/// (<c>/admin/api/…</c>) doing the same things. See docs/admin.md.
/// </summary>
internal sealed class AdminEndpoints(AdminService admin, AdminAuthenticator auth) : IHttpEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public void Map(IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/admin/api");
        api.MapGet("/stats", Task<IResult> (HttpContext c) => Guard(c, _ => Task.FromResult(Ok(admin.Stats()))));
        api.MapGet("/users", Task<IResult> (HttpContext c) => Guard(c, async _ => Ok(await admin.ListUsersAsync(c.RequestAborted).ConfigureAwait(false))));
        api.MapPost("/users", Task<IResult> (HttpContext c) => Guard(c, async who =>
        {
            var body = await ReadJsonAsync(c).ConfigureAwait(false);
            var jid = await admin.AddUserAsync(Field(body, "user"), Field(body, "password"), who.Jid, c.RequestAborted).ConfigureAwait(false);
            return Results.Json(new { user = jid }, Json, statusCode: StatusCodes.Status201Created);
        }));
        api.MapDelete("/users/{user}", (HttpContext c, string user) => Guard(c, async who =>
        {
            await admin.DeleteUserAsync(user, who.Jid, c.RequestAborted).ConfigureAwait(false);
            return Results.NoContent();
        }));
        api.MapPut("/users/{user}/password", (HttpContext c, string user) => Guard(c, async who =>
        {
            var body = await ReadJsonAsync(c).ConfigureAwait(false);
            await admin.ResetPasswordAsync(user, Field(body, "password"), who.Jid, c.RequestAborted).ConfigureAwait(false);
            return Results.NoContent();
        }));
        api.MapGet("/sessions", Task<IResult> (HttpContext c) => Guard(c, _ => Task.FromResult(Ok(admin.ListSessions()))));
        api.MapPost("/sessions/kick", Task<IResult> (HttpContext c) => Guard(c, async who =>
        {
            var body = await ReadJsonAsync(c).ConfigureAwait(false);
            var count = await admin.KickAsync(Field(body, "jid"), who.Jid).ConfigureAwait(false);
            return Ok(new { kicked = count });
        }));
        api.MapGet("/errors", Task<IResult> (HttpContext c) => Guard(c, _ => Task.FromResult(Ok(admin.RecentErrors().Select(e => new
        {
            time = e.Time, level = e.Level.ToString(), category = e.Category, message = e.Message, exception = e.Exception,
        })))));
        api.MapPost("/reload", Task<IResult> (HttpContext c) => Guard(c, who =>
        {
            var result = admin.Reload(who.Jid);
            return Task.FromResult(Results.Json(result, Json, statusCode: result.Success ? StatusCodes.Status200OK : StatusCodes.Status422UnprocessableEntity));
        }));
        api.MapGet("/config", Task<IResult> (HttpContext c) => Guard(c, _ => Task.FromResult(Ok(admin.EffectiveOptions()))));
        api.MapGet("/sections", Task<IResult> (HttpContext c) => Guard(c, _ => Task.FromResult(Ok(admin.Sections.Select(s => new { id = s.Id, title = s.Title })))));
        api.MapGet("/sections/{id}", (HttpContext c, string id) => Guard(c, async _ =>
        {
            var section = admin.Sections.FirstOrDefault(s => s.Id == id) ?? throw new AdminException(404, $"No section '{id}'.");
            return Ok(await section.GetTableAsync(c.RequestAborted).ConfigureAwait(false));
        }));
        api.MapPost("/sections/{id}/{action}", (HttpContext c, string id, string action) => Guard(c, async who =>
        {
            var section = admin.Sections.FirstOrDefault(s => s.Id == id) ?? throw new AdminException(404, $"No section '{id}'.");
            if (!section.RowActions.Contains(action)) throw new AdminException(404, $"The section '{id}' has no action '{action}'.");
            var body = await ReadJsonAsync(c).ConfigureAwait(false);
            var done = await section.RunRowActionAsync(action, Field(body, "row"), who.Jid, c.RequestAborted).ConfigureAwait(false);
            return Ok(new { done });
        }));

        new AdminPage(admin, auth).Map(endpoints);
    }

    private static IResult Ok(object value) => Results.Json(value, Json);

    /// <summary>
    /// 401 without valid credentials (with a Basic challenge, except to a browser), 403 for a password over plain HTTP,
    /// 429 for a banned source; for a change (any method but GET) the request must come from this origin and, with a
    /// cookie, carry the CSRF token, with Basic credentials a JSON body or the CSRF header — none of which a cross-site
    /// form or a simple cross-site request can produce (issue 19).
    /// </summary>
    private async Task<IResult> Guard(HttpContext context, Func<AdminIdentity, Task<IResult>> action)
    {
        var request = context.Request;
        var change = !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method);
        if (change && CrossSite(request) is { } why)
        {
            return Results.Json(new { error = "Cross-site request refused (" + why + ")." }, Json, statusCode: StatusCodes.Status403Forbidden);
        }
        var (status, identity, retryAfter) = await auth.AuthenticateAsync(context).ConfigureAwait(false);
        switch (status)
        {
            case AdminAuthStatus.Insecure:
                return Results.Json(new { error = Security.HttpPasswords.InsecureMessage(admin.Server, context) }, Json, statusCode: StatusCodes.Status403Forbidden);
            case AdminAuthStatus.Banned:
                return Security.HttpPasswords.TooManyAttempts(context, retryAfter);
            case AdminAuthStatus.Unauthenticated:
                // A browser is not challenged: it would keep the credentials and send them with later requests of any
                // site to this one. Browsers sign in at /admin/login; programs send Basic credentials up front.
                if (!request.Headers.ContainsKey("Sec-Fetch-Site")) context.Response.Headers.WWWAuthenticate = "Basic realm=\"Tendril admin\", charset=\"UTF-8\"";
                return Results.Json(new { error = "Admin credentials required (an administrator's JID and password)." }, Json, statusCode: StatusCodes.Status401Unauthorized);
        }
        if (status == AdminAuthStatus.Forbidden || identity is null)
        {
            return Results.Json(new { error = "This account is not an administrator (Tendril:Admin:Users)." }, Json, statusCode: StatusCodes.Status403Forbidden);
        }
        if (change)
        {
            var token = request.Headers[AdminAuthenticator.CsrfHeader].ToString();
            if (identity.Cookie is not null && !auth.CheckCsrf(identity, token))
            {
                return Results.Json(new { error = "Missing or wrong CSRF token." }, Json, statusCode: StatusCodes.Status403Forbidden);
            }
            // DELETE (and PUT) cannot leave another site without a CORS preflight, which is never granted; POST can.
            if (identity.Cookie is null && token.Length == 0 && !HttpMethods.IsDelete(request.Method) && !IsJson(request))
            {
                return Results.Json(new { error = "Send the request as Content-Type: application/json (or with an X-CSRF-Token header)." }, Json,
                    statusCode: StatusCodes.Status415UnsupportedMediaType);
            }
        }
        context.Response.Headers.CacheControl = "no-store";
        try
        {
            return await action(identity).ConfigureAwait(false);
        }
        catch (AdminException e)
        {
            return Results.Json(new { error = e.Message }, Json, statusCode: e.Status);
        }
        catch (StorageException e)
        {
            return Results.Json(new { error = "Storage error: " + e.Message }, Json, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary>Why a request is from another site (Fetch metadata, or an Origin that is not this host), or null.</summary>
    private static string? CrossSite(HttpRequest request)
    {
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site is "cross-site" or "same-site") return "Sec-Fetch-Site: " + site;
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0) return null;
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri)) return "Origin: " + origin;
        // The host alone: behind a TLS-terminating proxy the scheme and port differ from what the browser shows (a
        // browser marks another port of the same host same-site in Sec-Fetch-Site, refused above).
        return string.Equals(uri.Host, request.Host.Host, StringComparison.OrdinalIgnoreCase) ? null : "Origin: " + origin;
    }

    private static bool IsJson(HttpRequest request) =>
        request.ContentType is { } type && (type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) || type.Contains("+json", StringComparison.OrdinalIgnoreCase));

    private static async Task<JsonElement> ReadJsonAsync(HttpContext context)
    {
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new AdminException(400, "The body is not JSON: " + e.Message);
        }
    }

    private static string Field(JsonElement body, string name) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new AdminException(400, $"The body needs a string \"{name}\".");
}

public static class AdminServiceExtensions
{
    /// <summary>The admin page and JSON API under /admin (needs AddTendrilServer's metrics and reloader).</summary>
    public static IServiceCollection AddTendrilAdmin(this IServiceCollection services)
    {
        services.TryAddSingleton<AdminAuthenticator>();
        services.TryAddSingleton(sp => new AdminService(sp.GetRequiredService<XmppServer>(), sp.GetRequiredService<Diagnostics.MetricsCollector>(),
            sp.GetRequiredService<Diagnostics.RecentLogBuffer>(), sp.GetServices<IAdminSection>(), sp.GetService<ConfigurationReloader>()));
        services.AddHttpEndpoints<AdminEndpoints>();
        return services;
    }
}

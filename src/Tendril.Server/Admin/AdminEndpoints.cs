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

        new AdminPage(admin, auth).Map(endpoints);
    }

    private static IResult Ok(object value) => Results.Json(value, Json);

    /// <summary>401 without valid credentials (with a Basic challenge), 403 for non-admins, CSRF check for cookie sessions.</summary>
    private async Task<IResult> Guard(HttpContext context, Func<AdminIdentity, Task<IResult>> action)
    {
        var (status, identity) = await auth.AuthenticateAsync(context).ConfigureAwait(false);
        if (status == AdminAuthStatus.Unauthenticated)
        {
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"Tendril admin\", charset=\"UTF-8\"";
            return Results.Json(new { error = "Admin credentials required." }, Json, statusCode: StatusCodes.Status401Unauthorized);
        }
        if (status == AdminAuthStatus.Forbidden || identity is null)
        {
            return Results.Json(new { error = "This account is not an administrator (Tendril:Admin:Users)." }, Json, statusCode: StatusCodes.Status403Forbidden);
        }
        if (!HttpMethods.IsGet(context.Request.Method) && !auth.CheckCsrf(identity, context.Request.Headers[AdminAuthenticator.CsrfHeader]))
        {
            return Results.Json(new { error = "Missing or wrong CSRF token." }, Json, statusCode: StatusCodes.Status403Forbidden);
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

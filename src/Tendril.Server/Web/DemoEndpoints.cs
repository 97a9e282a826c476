using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Tendril.Server.Hosting;
using Tendril.Server.Transport.WebSockets;

namespace Tendril.Server.Web;

/// <summary>
/// The demo web client (converse.js) on <c>Tendril:Demo:Path</c> when <c>Tendril:Demo:Enabled</c>: static files from
/// <c>Tendril:Demo:Directory</c> (by default the <c>demo</c> folder the build puts next to the binary). Read-only,
/// GET/HEAD only, no directory listing, nothing outside the folder. Nothing the page loads comes from elsewhere: a
/// file converse asks for next to the page (its OMEMO wasm) is served from <c>converse/</c>, and a
/// Content-Security-Policy keeps images, media and fonts (converse's sponsor logos) to this server. Opened over plain
/// HTTP that the WebSocket and BOSH endpoints would refuse (<c>C2s:RequireTls</c>), the page explains why and links
/// to the HTTPS port instead of a web client that could not log in.
/// </summary>
public sealed class DemoEndpoints(XmppServer server) : IHttpEndpoints
{
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    /// <summary>Loads of images, media and fonts stay on this server (converse's login page shows sponsor logos from its web site).</summary>
    public const string ContentSecurityPolicy = "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:";

    public void Map(IEndpointRouteBuilder endpoints)
    {
        var options = server.Options.Demo;
        if (!options.Enabled) return;
        var root = Path.GetFullPath(string.IsNullOrEmpty(options.Directory) ? Path.Combine(AppContext.BaseDirectory, "demo") : options.Directory);
        var prefix = options.Path.TrimEnd('/');
        // Routing ignores a trailing slash: "/demo" is redirected to "/demo/" (so the page's relative URLs resolve), "/demo/" is the page.
        endpoints.MapGet(prefix, (HttpContext context) => context.Request.Path.Value!.EndsWith('/')
            ? Serve(context, root, null, prefix)
            : Results.Redirect(prefix + "/" + context.Request.QueryString));
        endpoints.MapGet(prefix + "/{**file}", (HttpContext context, string? file) => Serve(context, root, file, prefix));
    }

    private IResult Serve(HttpContext context, string root, string? file, string prefix)
    {
        if (string.IsNullOrEmpty(file)) file = "index.html";
        context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        if (file == "index.html" && server.Options.C2s.RequireTls && !WebTransportEndpoints.IsSecure(server, context))
        {
            return PlainHttpPage(context, prefix);
        }
        var path = Resolve(root, file);
        // converse resolves some of its files against the page, not its script (the OMEMO curve25519 wasm): a
        // top-level name that is not the page's own is looked up in converse/.
        if (path is null && !file.Contains('/', StringComparison.Ordinal)) path = Resolve(root, "converse/" + file);
        if (path is null) return Results.NotFound();
        if (!ContentTypes.TryGetContentType(path, out var type)) type = "application/octet-stream";
        if (path.EndsWith(".wasm", StringComparison.Ordinal)) type = "application/wasm";
        return Results.File(path, type, enableRangeProcessing: false);
    }

    private static string? Resolve(string root, string file)
    {
        var path = Path.GetFullPath(Path.Combine(root, file));
        return path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) && File.Exists(path) ? path : null;
    }

    /// <summary>The page in place of the web client on plain HTTP with RequireTls on: the reason and the HTTPS link.</summary>
    private IResult PlainHttpPage(HttpContext context, string prefix)
    {
        var https = WebTransportEndpoints.HttpsBaseUrl(server, context);
        string next;
        if (https is not null)
        {
            var url = https + prefix + "/" + context.Request.QueryString;
            var link = WebUtility.HtmlEncode(url);
            next = $"<p>Open the demo over HTTPS: <a id='https' href='{link}'>{link}</a>.</p>"
                + "<p>With the generated self-signed certificate the browser asks you to trust it once.</p>";
        }
        else
        {
            next = "<p>This server has no HTTPS listener (<code>Tendril:Http:HttpsEnabled</code> is off). Turn it on, or put a "
                + "TLS-terminating proxy on this host in front of the HTTP port and set <code>Tendril:Http:TrustLoopback</code>.</p>";
        }
        var html = "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Tendril demo: HTTPS required</title></head><body>"
            + "<h1>This page needs HTTPS</h1>"
            + "<p>The server requires TLS for client connections (<code>Tendril:C2s:RequireTls</code>), so the web client "
            + "cannot log in over plain HTTP: its WebSocket and BOSH connections would be refused.</p>"
            + next + "</body></html>\n";
        return Results.Content(html, "text/html; charset=utf-8");
    }
}

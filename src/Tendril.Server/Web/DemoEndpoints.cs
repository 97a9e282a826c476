using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Tendril.Server.Hosting;

namespace Tendril.Server.Web;

/// <summary>
/// The demo web client (converse.js) on <c>Tendril:Demo:Path</c> when <c>Tendril:Demo:Enabled</c>: static files from
/// <c>Tendril:Demo:Directory</c> (by default the <c>demo</c> folder the build puts next to the binary). Read-only,
/// GET/HEAD only, no directory listing, nothing outside the folder.
/// </summary>
public sealed class DemoEndpoints(XmppServer server) : IHttpEndpoints
{
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public void Map(IEndpointRouteBuilder endpoints)
    {
        var options = server.Options.Demo;
        if (!options.Enabled) return;
        var root = Path.GetFullPath(string.IsNullOrEmpty(options.Directory) ? Path.Combine(AppContext.BaseDirectory, "demo") : options.Directory);
        var prefix = options.Path.TrimEnd('/');
        // Routing ignores a trailing slash: "/demo" is redirected to "/demo/" (so the page's relative URLs resolve), "/demo/" is the page.
        endpoints.MapGet(prefix, (HttpContext context) => context.Request.Path.Value!.EndsWith('/')
            ? Serve(root, null)
            : Results.Redirect(prefix + "/" + context.Request.QueryString));
        endpoints.MapGet(prefix + "/{**file}", (string? file) => Serve(root, file));
    }

    private static IResult Serve(string root, string? file)
    {
        if (string.IsNullOrEmpty(file)) file = "index.html";
        var path = Path.GetFullPath(Path.Combine(root, file));
        if (!path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(path)) return Results.NotFound();
        if (!ContentTypes.TryGetContentType(path, out var type)) type = "application/octet-stream";
        if (path.EndsWith(".wasm", StringComparison.Ordinal)) type = "application/wasm";
        return Results.File(path, type, enableRangeProcessing: false);
    }
}

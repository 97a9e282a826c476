using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Tendril.Server.Hosting;
using Tendril.Server.Transport;

namespace Tendril.Server.Transport.WebSockets;

/// <summary>
/// The web transports on the HTTP port (docs/web.md): XMPP over WebSocket (RFC 7395) and the XEP-0156 host-meta
/// documents that advertise it. Both run the same <see cref="Streams.C2sStream"/> as TCP, through its framing.
/// </summary>
public sealed class WebTransportEndpoints(XmppServer server, ILogger<WebTransportEndpoints> logger) : IHttpEndpoints
{
    public const string SubProtocol = "xmpp";

    public void Map(IEndpointRouteBuilder endpoints)
    {
        var options = server.Options;
        if (options.WebSocket.Enabled) endpoints.Map(options.WebSocket.Path, WebSocketAsync);
        endpoints.MapGet("/.well-known/host-meta", HostMetaXml);
        endpoints.MapGet("/.well-known/host-meta.json", HostMetaJson);
    }

    /// <summary>
    /// Secure when the request came over HTTPS, or (with Tendril:Http:TrustLoopback) from a loopback address — a
    /// TLS-terminating proxy on the same host. STARTTLS cannot exist inside HTTP, so this decides alone.
    /// </summary>
    internal static bool IsSecure(XmppServer server, HttpContext context) =>
        context.Request.IsHttps
        || (server.Options.Http.TrustLoopback && context.Connection.RemoteIpAddress is { } ip && IPAddress.IsLoopback(ip));

    private async Task WebSocketAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            context.Response.Headers.Upgrade = "websocket";
            await context.Response.WriteAsync("XMPP over WebSocket (RFC 7395): open a WebSocket with the 'xmpp' subprotocol.\n").ConfigureAwait(false);
            return;
        }
        // RFC 7395 §3.1: the 'xmpp' subprotocol must be negotiated; without it there is no XMPP session.
        if (!context.WebSockets.WebSocketRequestedProtocols.Contains(SubProtocol, StringComparer.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("The WebSocket handshake must request the 'xmpp' subprotocol (RFC 7395 §3.1).\n").ConfigureAwait(false);
            return;
        }
        var secure = IsSecure(server, context);
        if (!secure && server.Options.C2s.RequireTls)
        {
            logger.LogInformation("WebSocket from {Remote} refused: not HTTPS and Tendril:C2s:RequireTls is on", context.Connection.RemoteIpAddress);
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync("TLS is required: connect with wss:// (or through a trusted TLS-terminating proxy).\n").ConfigureAwait(false);
            return;
        }
        var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = SubProtocol }).ConfigureAwait(false);
        var remote = $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}";
        var transport = new WebSocketTransport(socket, remote, secure, server.ParserOptions);
        await server.AcceptAsync(transport, directTls: false, listener: "websocket").ConfigureAwait(false);
    }

    /// <summary>
    /// The base URL of this server's HTTPS listener as the client reached the server (the request's host, the HTTPS
    /// port Kestrel bound), or null when there is none.
    /// </summary>
    internal static string? HttpsBaseUrl(XmppServer server, HttpContext context)
    {
        if (!server.Options.Http.HttpsEnabled) return null;
        var port = server.Options.Http.HttpsPort;
        // HttpsPort 0 picks a free port: the bound one is in the server's addresses once it listens.
        var addresses = context.RequestServices.GetService(typeof(IServer)) is IServer http ? http.Features.Get<IServerAddressesFeature>()?.Addresses : null;
        foreach (var address in addresses ?? [])
        {
            if (address.StartsWith("https://", StringComparison.OrdinalIgnoreCase) && Uri.TryCreate(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri))
            {
                port = uri.Port;
                break;
            }
        }
        return port == 0 ? null : "https://" + new HostString(context.Request.Host.Host, port);
    }

    /// <summary>
    /// XEP-0156 must name endpoints the client can use: on a connection that does not count as secure while
    /// Tendril:C2s:RequireTls is on, the plain ones would be refused (403), so the HTTPS listener's are named instead
    /// (none without one). Tendril:Http:PublicUrl, when set, is the operator's word and is used as given.
    /// </summary>
    private string? BaseUrl(HttpContext context)
    {
        var configured = server.Options.Http.PublicUrl;
        if (!string.IsNullOrEmpty(configured)) return configured.TrimEnd('/');
        if (server.Options.C2s.RequireTls && !IsSecure(server, context)) return HttpsBaseUrl(server, context);
        return $"{context.Request.Scheme}://{context.Request.Host}";
    }

    private static string WebSocketUrl(string baseUrl) =>
        baseUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? "wss://" + baseUrl["https://".Length..] : "ws://" + baseUrl["http://".Length..];

    private List<(string Rel, string Href)> Links(HttpContext context)
    {
        var links = new List<(string, string)>();
        if (BaseUrl(context) is not { } baseUrl) return links;
        if (server.Options.WebSocket.Enabled) links.Add(("urn:xmpp:alt-connections:websocket", WebSocketUrl(baseUrl) + server.Options.WebSocket.Path));
        if (server.Options.Bosh.Enabled) links.Add(("urn:xmpp:alt-connections:xbosh", baseUrl + server.Options.Bosh.Path));
        return links;
    }

    // XEP-0156 §3.2: host-meta (RFC 6415) as XRD...
    private IResult HostMetaXml(HttpContext context)
    {
        var xml = new StringBuilder("<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n");
        foreach (var (rel, href) in Links(context))
        {
            xml.Append("  <Link rel='").Append(rel).Append("' href='").Append(System.Security.SecurityElement.Escape(href)).Append("'/>\n");
        }
        xml.Append("</XRD>\n");
        context.Response.Headers.AccessControlAllowOrigin = "*"; // public discovery document (XEP-0156 §3.2, RFC 6415 §5)
        return Results.Text(xml.ToString(), "application/xrd+xml", Encoding.UTF8);
    }

    // ...and as JSON (JRD).
    private IResult HostMetaJson(HttpContext context)
    {
        var json = JsonSerializer.Serialize(new { links = Links(context).Select(l => new { rel = l.Rel, href = l.Href }) });
        context.Response.Headers.AccessControlAllowOrigin = "*";
        return Results.Text(json, "application/json", Encoding.UTF8);
    }
}

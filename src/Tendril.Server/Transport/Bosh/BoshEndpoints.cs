using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Tendril.Server.Configuration;
using Tendril.Server.Hosting;
using Tendril.Xml;

using Tendril.Server.Transport.WebSockets;

namespace Tendril.Server.Transport.Bosh;

/// <summary>The live BOSH sessions by sid, and the inactivity sweep (XEP-0124 §7.1 'inactivity').</summary>
internal sealed class BoshRegistry(XmppServer server)
{
    private readonly ConcurrentDictionary<string, BoshSession> _sessions = new(StringComparer.Ordinal);

    /// <summary>Read at use: a configuration reload applies to new sessions and the next sweep.</summary>
    public BoshOptions Options => server.Options.Bosh;

    public string Domain => server.Domain;

    public int Count => _sessions.Count;

    public void Add(BoshSession session) => _sessions[session.Sid] = session;

    public bool TryGet(string sid, out BoshSession? session) => _sessions.TryGetValue(sid, out session);

    public void Remove(BoshSession session) => _sessions.TryRemove(new KeyValuePair<string, BoshSession>(session.Sid, session));

    public void Sweep(long nowTicks)
    {
        foreach (var session in _sessions.Values)
        {
            if (session.IsInactive(nowTicks, Options.Inactivity)) session.TerminateSession("item-not-found", "inactivity");
        }
    }
}

/// <summary>
/// BOSH (XEP-0124 + XEP-0206) at <c>Tendril:Bosh:Path</c>: each POSTed <c>&lt;body/&gt;</c> goes to its
/// <see cref="BoshSession"/>, which runs the same <see cref="Streams.C2sStream"/> as TCP and WebSocket.
/// </summary>
public sealed class BoshEndpoints(XmppServer server, ILogger<BoshEndpoints> logger) : IHttpEndpoints
{
    public const string XboshNs = "urn:xmpp:xbosh";

    private BoshRegistry? _registry;

    public void Map(IEndpointRouteBuilder endpoints)
    {
        var options = server.Options.Bosh;
        if (!options.Enabled) return;
        _registry = new BoshRegistry(server);
        endpoints.MapMethods(options.Path, ["POST"], PostAsync);
        endpoints.MapMethods(options.Path, ["OPTIONS"], Preflight);
        _ = SweepAsync(_registry);
    }

    private async Task SweepAsync(BoshRegistry registry)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), server.Time);
        while (await timer.WaitForNextTickAsync().ConfigureAwait(false))
        {
            // One failed round (out of descriptors or memory, a bug in a session) must not end the sweep for good.
            try
            {
                registry.Sweep(server.Time.GetUtcNow().UtcTicks);
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "BOSH inactivity sweep failed; retrying at the next tick");
            }
        }
    }

    /// <summary>CORS (not '*' unless configured): the allowed origin is echoed.</summary>
    private bool Cors(HttpContext context)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length == 0) return true;
        var allowed = server.Options.Bosh.CorsOrigins;
        if (!allowed.Contains("*") && !allowed.Contains(origin, StringComparer.OrdinalIgnoreCase)) return false;
        context.Response.Headers.AccessControlAllowOrigin = origin;
        context.Response.Headers.Vary = "Origin";
        context.Response.Headers.AccessControlAllowMethods = "POST, OPTIONS";
        context.Response.Headers.AccessControlAllowHeaders = "Content-Type";
        context.Response.Headers.AccessControlMaxAge = "86400";
        return true;
    }

    private IResult Preflight(HttpContext context) => Cors(context) ? Results.NoContent() : Results.StatusCode(StatusCodes.Status403Forbidden);

    private async Task PostAsync(HttpContext context)
    {
        var registry = _registry!;
        Cors(context); // a disallowed origin gets no CORS headers: the browser refuses to show it the answer
        var limit = server.Options.Limits.MaxStanzaBytes + 8192;
        var read = await ReadBodyAsync(context, limit).ConfigureAwait(false);
        if (read is null)
        {
            await WriteAsync(context, StatusCodes.Status413PayloadTooLarge, BoshSession.Terminate("policy-violation")).ConfigureAwait(false);
            return;
        }
        var body = Parse(read);
        if (body is null || !long.TryParse(body.GetAttribute("rid"), NumberStyles.None, CultureInfo.InvariantCulture, out var rid))
        {
            await WriteAsync(context, StatusCodes.Status400BadRequest, BoshSession.Terminate("bad-request")).ConfigureAwait(false);
            return;
        }
        string response;
        var sid = body.GetAttribute("sid");
        if (sid is null)
        {
            if (body.GetAttribute("to") != server.Domain)
            {
                await WriteAsync(context, 200, BoshSession.Terminate("host-unknown")).ConfigureAwait(false);
                return;
            }
            var secure = WebTransportEndpoints.IsSecure(server, context);
            if (!secure && server.Options.C2s.RequireTls)
            {
                logger.LogInformation("BOSH session from {Remote} refused: not HTTPS and Tendril:C2s:RequireTls is on", context.Connection.RemoteIpAddress);
                await WriteAsync(context, StatusCodes.Status403Forbidden, BoshSession.Terminate("policy-violation")).ConfigureAwait(false);
                return;
            }
            var options = registry.Options;
            var wait = Math.Clamp(IntAttribute(body, "wait") ?? options.MaxWait, 1, options.MaxWait);
            var hold = Math.Clamp(IntAttribute(body, "hold") ?? 1, 0, options.MaxHold);
            var session = new BoshSession(registry, NewSid(), rid, wait, hold,
                $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}", secure, server.Time);
            registry.Add(session);
            _ = server.AcceptAsync(session, directTls: false, listener: "bosh");
            response = await session.HandleAsync(body, rid, creation: true, options, context.RequestAborted).ConfigureAwait(false);
        }
        else if (registry.TryGet(sid, out var session))
        {
            response = await session!.HandleAsync(body, rid, creation: false, registry.Options, context.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            response = BoshSession.Terminate("item-not-found");
        }
        await WriteAsync(context, 200, response).ConfigureAwait(false);
    }

    private static int? IntAttribute(XmlElement body, string name) =>
        int.TryParse(body.GetAttribute(name), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static string NewSid()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private XmlElement? Parse(byte[] bytes)
    {
        var parser = new XmlStreamParser(server.ParserOptions with { FragmentMode = true, MaxStanzaBytes = bytes.Length + 1 });
        var sequence = new ReadOnlySequence<byte>(bytes);
        try
        {
            if (!parser.TryRead(ref sequence, out var ev) || ev.Element is not { } body) return null;
            return body.Is("body", BoshSession.HttpBindNs) ? body : null;
        }
        catch (XmlParseException)
        {
            return null;
        }
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpContext context, int limit)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int n;
        while ((n = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limit) return null;
        }
        return buffer.ToArray();
    }

    private static Task WriteAsync(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/xml; charset=utf-8";
        return context.Response.WriteAsync(body, context.RequestAborted);
    }
}

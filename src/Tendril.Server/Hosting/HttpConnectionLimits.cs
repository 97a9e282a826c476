using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Tendril.Server.Transport;

namespace Tendril.Server.Hosting;

/// <summary>
/// The connection limits on the HTTP side (BOSH, WebSocket, admin, upload, /health): Kestrel's own limits are set from
/// the same numbers, and a connection middleware — before TLS, so a refused connection costs no handshake — counts
/// every HTTP connection in the server's <see cref="ConnectionGate"/> with the XMPP listeners', in total and per
/// source address. A refused connection is closed at once.
/// </summary>
public static class HttpConnectionLimits
{
    /// <summary>Kestrel's connection limits (fixed at start; the gate reads reloaded limits).</summary>
    public static void Apply(KestrelServerLimits kestrel, ConnectionLimits limits)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        ArgumentNullException.ThrowIfNull(limits);
        // A backstop above what the gate lets HTTP take (total less the XMPP listeners' share), so refusals normally come
        // from the gate — counted and logged once per 10 s — not from Kestrel, which logs a line per refused connection.
        kestrel.MaxConcurrentConnections = limits.MaxConnections;
        // WebSocket streams: an upgraded connection leaves MaxConcurrentConnections' count, so it is bounded apart.
        kestrel.MaxConcurrentUpgradedConnections = limits.MaxConnections;
    }

    /// <summary>Adds the gate to a listener; call before <c>UseHttps</c>.</summary>
    public static ListenOptions UseTendrilConnectionLimits(this ListenOptions listen, Func<XmppServer> server, string name)
    {
        ArgumentNullException.ThrowIfNull(listen);
        listen.Use(next => async context =>
        {
            var gate = server().Connections;
            var address = (context.RemoteEndPoint as IPEndPoint)?.Address;
            var lease = gate.TryOpen(address, out var refusal, http: true);
            if (lease is null)
            {
                gate.Report(refusal, name, address);
                context.Abort();
                return;
            }
            try
            {
                await next(context).ConfigureAwait(false);
            }
            finally
            {
                lease.Dispose();
            }
        });
        return listen;
    }
}

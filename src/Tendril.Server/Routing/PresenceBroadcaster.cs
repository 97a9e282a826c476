using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Server.Logging;
using Tendril.Xml;

namespace Tendril.Server.Routing;

/// <summary>
/// Broadcast of a client's own presence (no 'to', RFC 6121 §4.2, §4.4 and §4.5): the session's availability and
/// priority are updated and the presence goes to the user's own available resources (the sender included). The
/// registered <see cref="Features.IPresenceHandler"/> (rosters) then sends it to subscribers, probes contacts on
/// initial presence, and sends unavailable presence to subscribers and directed-presence recipients. Without a handler,
/// unavailable presence goes to the directed-presence recipients only.
/// </summary>
internal static class PresenceBroadcaster
{
    public static async ValueTask BroadcastAsync(XmppServer server, C2sSession origin, XmlElement presence)
    {
        var type = presence.GetAttribute("type");
        var wasAvailable = origin.IsAvailable;
        switch (type)
        {
            case null:
                origin.Priority = ParsePriority(presence);
                origin.IsAvailable = true;
                origin.LastPresence = presence;
                if (server.Cluster.IsClustered) await server.Cluster.SessionChangedAsync(origin).ConfigureAwait(false);
                SendToOwnResources(server, origin, presence);
                await NotifyHandlerAsync(server, origin, presence, wasAvailable, []).ConfigureAwait(false);
                if (!wasAvailable) await RaiseSessionAvailableAsync(server, origin).ConfigureAwait(false);
                break;
            case "unavailable":
                origin.IsAvailable = false;
                origin.LastPresence = null;
                if (server.Cluster.IsClustered) await server.Cluster.SessionChangedAsync(origin).ConfigureAwait(false);
                SendToOwnResources(server, origin, presence);
                await SendUnavailableAsync(server, origin, presence, wasAvailable, origin.TakeDirectedPresence()).ConfigureAwait(false);
                break;
            default:
                // Subscription requests and probes without 'to' are meaningless (RFC 6121 §3.1.1 requires 'to').
                break;
        }
    }

    /// <summary>
    /// The session's cluster node was declared dead and purged — the user's other resources, the subscribers and the
    /// directed-presence recipients were told it went unavailable (RFC 6121 §4.6.3) — but the node lives and re-joined.
    /// Its last presence is announced again as at login (§4.2.2), the contacts are probed again (presence they sent
    /// meanwhile never reached it), and the features see it become available again as at login: what other nodes stored
    /// offline for it while its node was cut off is delivered, PEP last items are sent again.
    /// </summary>
    public static async ValueTask AnnounceAgainAsync(XmppServer server, C2sSession session)
    {
        if (session.IsClosed || !session.IsAvailable || session.LastPresence is not { } presence) return;
        SendToOwnResources(server, session, presence, echo: false); // the client knows its own presence
        await NotifyHandlerAsync(server, session, presence, wasAvailable: false, []).ConfigureAwait(false);
        foreach (var to in session.DirectedPresence())
        {
            await server.Router.RouteAsync(presence.Clone().SetAttribute("to", to.ToString()), session.Jid, to).ConfigureAwait(false);
        }
        await RaiseSessionAvailableAsync(server, session).ConfigureAwait(false);
    }

    /// <summary>Broadcasts unavailable presence for a session that ended without sending it (RFC 6121 §4.6.3).</summary>
    public static ValueTask BroadcastUnavailableOnCloseAsync(XmppServer server, C2sSession session)
    {
        var directed = session.TakeDirectedPresence();
        var wasAvailable = session.IsAvailable;
        if (!wasAvailable && directed.Length == 0) return ValueTask.CompletedTask;
        session.IsAvailable = false;
        session.LastPresence = null;
        var presence = new XmlElement("presence", Ns.Client).SetAttribute("type", "unavailable").SetAttribute("from", session.JidString);
        SendToOwnResources(server, session, presence);
        return SendUnavailableAsync(server, session, presence, wasAvailable, directed);
    }

    private static async ValueTask SendUnavailableAsync(XmppServer server, C2sSession session, XmlElement presence, bool wasAvailable, Jid[] directed)
    {
        if (server.Features.PresenceHandler is null)
        {
            foreach (var jid in directed) await server.Router.RouteAsync(presence, session.Jid, jid).ConfigureAwait(false);
            return;
        }
        await NotifyHandlerAsync(server, session, presence, wasAvailable, directed).ConfigureAwait(false);
    }

    private static async ValueTask NotifyHandlerAsync(XmppServer server, C2sSession session, XmlElement presence, bool wasAvailable, Jid[] directed)
    {
        var handler = server.Features.PresenceHandler;
        if (handler is null) return;
        try
        {
            await handler.OnBroadcastAsync(session, presence, wasAvailable, directed).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Storage trouble must not take the stream down; the presence reached the user's own resources at least.
            ServerLog.PresenceFailed(server.LoggerFactory.CreateLogger("Tendril.Presence"), session.JidString, ex);
        }
    }

    private static async ValueTask RaiseSessionAvailableAsync(XmppServer server, C2sSession session)
    {
        try
        {
            await server.Features.RaiseSessionAvailableAsync(session).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ServerLog.PresenceFailed(server.LoggerFactory.CreateLogger("Tendril.Presence"), session.JidString, ex);
        }
    }

    /// <summary>To the user's available resources on every node, and (with <paramref name="echo"/>) back to the sender (§4.2.2).</summary>
    private static void SendToOwnResources(XmppServer server, C2sSession origin, XmlElement presence, bool echo = true)
    {
        if (echo) server.Delivery.TryDeliver(origin, presence);
        server.Delivery.ToAvailable(origin.Jid, presence, except: origin);
    }

    /// <summary>RFC 6121 §4.7.2.3: an integer -128..127, 0 when absent or invalid.</summary>
    internal static int ParsePriority(XmlElement presence)
    {
        var text = presence.Element("priority")?.Text;
        if (text is null || !int.TryParse(text.AsSpan().Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var p)) return 0;
        return Math.Clamp(p, -128, 127);
    }
}

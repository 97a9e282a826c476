using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Routing;

/// <summary>
/// Broadcast of a client's own presence (no 'to', RFC 6121 §4.2 and §4.5): the session's availability and priority
/// are updated and the presence goes to the user's own available resources (the sender included) and, for
/// unavailable presence, to every entity that got directed presence. Contacts with a subscription join in with rosters.
/// </summary>
internal static class PresenceBroadcaster
{
    public static ValueTask BroadcastAsync(XmppServer server, C2sSession origin, XmlElement presence)
    {
        var type = presence.GetAttribute("type");
        switch (type)
        {
            case null:
                var wasAvailable = origin.IsAvailable;
                origin.Priority = ParsePriority(presence);
                origin.IsAvailable = true;
                origin.LastPresence = presence;
                SendToOwnResources(server, origin, presence);
                if (!wasAvailable) return server.Features.RaiseSessionAvailableAsync(origin);
                break;
            case "unavailable":
                origin.IsAvailable = false;
                origin.LastPresence = null;
                SendToOwnResources(server, origin, presence);
                foreach (var jid in origin.TakeDirectedPresence()) _ = server.Router.RouteAsync(presence, origin.Jid, jid);
                break;
            default:
                // Subscription requests and probes without 'to' are meaningless (RFC 6121 §3.1.1 requires 'to').
                break;
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Broadcasts unavailable presence for a session that ended without sending it (RFC 6121 §4.6.3).</summary>
    public static void BroadcastUnavailableOnClose(XmppServer server, C2sSession session)
    {
        var directed = session.TakeDirectedPresence();
        if (!session.IsAvailable && directed.Length == 0) return;
        session.IsAvailable = false;
        var presence = new XmlElement("presence", Ns.Client).SetAttribute("type", "unavailable").SetAttribute("from", session.JidString);
        SendToOwnResources(server, session, presence);
        foreach (var jid in directed) _ = server.Router.RouteAsync(presence, session.Jid, jid);
    }

    private static void SendToOwnResources(XmppServer server, C2sSession origin, XmlElement presence)
    {
        foreach (var s in server.Sessions.FindAll(origin.Jid))
        {
            if (s == origin || s.IsAvailable) server.Router.DeliverQuiet(s, presence);
        }
    }

    /// <summary>RFC 6121 §4.7.2.3: an integer -128..127, 0 when absent or invalid.</summary>
    internal static int ParsePriority(XmlElement presence)
    {
        var text = presence.Element("priority")?.Text;
        if (text is null || !int.TryParse(text.AsSpan().Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var p)) return 0;
        return Math.Clamp(p, -128, 127);
    }
}

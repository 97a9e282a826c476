using System.Globalization;
using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>
/// Event notifications (XEP-0060 §7.1.2, §7.2.2, §8.4.2, §8.5.2, §8.6): one &lt;message type='headline'/&gt; (or the
/// node's pubsub#notification_type) built and
/// serialized once per event; each subscriber's connection writes the same bytes with only its own 'to' inserted. A
/// subscription to a bare JID reaches every available resource with non-negative priority (RFC 6121 §8.5.2.1.1 for
/// headlines); a full JID only that resource. Offline subscribers get nothing (there is no offline storage yet).
/// </summary>
public sealed class PubSubNotifier(Func<XmppServer> server)
{
    private long _ids;

    /// <summary>A notification message from <paramref name="service"/> with &lt;event&gt; wrapping <paramref name="content"/>.</summary>
    /// <paramref name="type"/>: the node's pubsub#notification_type (headline unless configured otherwise).
    public XmlElement Message(Jid service, XmlElement content, DateTimeOffset? delayedSince = null, string type = "headline")
    {
        var message = new XmlElement("message", Ns.Client)
            .SetAttribute("from", service.ToString())
            .SetAttribute("type", type)
            .SetAttribute("id", "ps-" + Interlocked.Increment(ref _ids).ToString(CultureInfo.InvariantCulture));
        message.AddElement("event", PubSubNs.Event).Add(content);
        if (delayedSince is { } stamp)
        {
            message.AddElement("delay", Ns.Delay).SetAttribute("from", service.ToString())
                .SetAttribute("stamp", XmppDateTime.Format(stamp));
        }
        return message;
    }

    /// <summary>
    /// Sends one event about <paramref name="node"/> (of its notification type) to every active subscription of it that
    /// wants deliveries. Returns the number of sessions it was queued to.
    /// </summary>
    public int Broadcast(Jid service, PubSubNode node, XmlElement content)
    {
        SerializedStanza? once = null;
        var queued = 0;
        foreach (var s in node.Subscriptions)
        {
            if (!s.IsActive || !s.Deliver) continue;
            once ??= new SerializedStanza(Message(service, content, type: node.Config.MessageType));
            queued += DeliverTo(s.Jid, once);
        }
        return queued;
    }

    /// <summary>Queues a serialized stanza to a JID's sessions (bare: available resources with priority ≥ 0).</summary>
    public int DeliverTo(Jid jid, SerializedStanza stanza)
    {
        var xmpp = server();
        if (jid.Domain != xmpp.Domain || jid.Local is null) return 0;
        if (jid.Resource is not null) return xmpp.Delivery.Find(jid) is { } resource && xmpp.Delivery.TryDeliver(resource, stanza) ? 1 : 0;
        return xmpp.Delivery.ToAvailable(jid, stanza, nonNegativeOnly: true);
    }

    /// <summary>Sends to one session (the last published item on presence).</summary>
    public void DeliverTo(C2sSession session, XmlElement stanza) => server().Delivery.TryDeliver(session, new SerializedStanza(stanza));

    /// <summary>Sends a stanza the service originates (authorization forms, subscription-state events) through the router's RFC 6121 rules.</summary>
    public ValueTask SendAsync(XmlElement stanza, Jid from, Jid to)
    {
        stanza.SetAttribute("to", to.ToString());
        return server().Router.RouteAsync(stanza, from, to);
    }
}

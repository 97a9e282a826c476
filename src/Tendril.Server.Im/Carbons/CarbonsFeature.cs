using System.Collections.Concurrent;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features.Carbons;

/// <summary>
/// Message Carbons (XEP-0280): a session enables or disables carbons for itself (§4, §5; repeating either is not an
/// error, §10.1). Messages eligible by the rules suggested in §6 — type chat, or type normal with a body, not from a
/// MUC (muc#user payload), not themselves carbons — are copied through the router's stanza filters:
/// <list type="bullet">
/// <item>sent by a local client (§8): a &lt;sent/&gt; copy to each other carbons-enabled session of the sender;</item>
/// <item>to a local account (§7): after RFC 6121 delivery, a &lt;received/&gt; copy to each carbons-enabled session
/// of the recipient that does not get the original.</item>
/// </list>
/// A &lt;private/&gt; child (§9) or an XEP-0334 &lt;no-copy/&gt; hint prevents both copies; the receiving side
/// removes &lt;private/&gt; before delivery (§9). Copies come from the user's bare JID and wrap the original in an
/// XEP-0297 &lt;forwarded/&gt;.
/// </summary>
public sealed class CarbonsFeature : IServerFeature
{
    public const string Namespace = "urn:xmpp:carbons:2";
    public const string ForwardNamespace = "urn:xmpp:forward:0";
    public const string HintsNamespace = "urn:xmpp:hints";
    private const string MucUserNamespace = "http://jabber.org/protocol/muc#user";

    private XmppServer _server = null!;
    private readonly ConcurrentDictionary<C2sSession, byte> _enabled = new();

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        registry.AddDiscoFeature(Namespace);
        registry.HandleIq("enable", Namespace, request => Toggle(request, true), IqTarget.Account);
        registry.HandleIq("disable", Namespace, request => Toggle(request, false), IqTarget.Account);
        registry.AddOutboundFilter(StanzaKinds.Message, StanzaStage.Copy, CopySent);
        registry.AddInboundFilter(StanzaKinds.Message, StanzaStage.Copy, CopyReceived);
        _server.Cluster.OnAccountEvent(ClusterEvent, OnClusterCopy);
        registry.SessionClosed += session =>
        {
            _enabled.TryRemove(session, out _);
            return ValueTask.CompletedTask;
        };
    }

    private ValueTask Toggle(IqRequest request, bool enable)
    {
        if (request.Origin is null || request.To != request.From.Bare)
        {
            request.ReplyError(StanzaErrorCondition.NotAllowed); // §4.1, §5.1
        }
        else if (!request.IsSet)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest);
        }
        else
        {
            if (enable) _enabled[request.Origin] = 0;
            else _enabled.TryRemove(request.Origin, out _);
            request.Reply();
        }
        return ValueTask.CompletedTask;
    }

    private ValueTask<StanzaFilterResult> CopySent(C2sSession origin, XmlElement stanza, Jid? to)
    {
        if (to is null || stanza.Name != "message" || !IsEligible(stanza) || HasNoCopyHint(stanza)) return new(StanzaFilterResult.Continue);
        var resources = _server.Delivery.Of(origin.Jid);
        var remotes = resources.Elsewhere;
        if (_enabled.IsEmpty && remotes.Length == 0) return new(StanzaFilterResult.Continue);
        XmlElement? original = null;
        foreach (var session in resources.Here)
        {
            if (session == origin || !_enabled.ContainsKey(session)) continue;
            original ??= stanza.Clone();
            _server.Delivery.TryDeliver(session, Wrap("sent", stanza, original, session));
        }
        // The sender's sessions on other nodes: their node knows which enabled carbons and copies there.
        if (remotes.Length > 0) _server.Cluster.SendAccountEvent(origin.Jid.Bare, ClusterEvent, ClusterPayload("sent", original ?? stanza.Clone(), []));
        return new(StanzaFilterResult.Continue);
    }

    private ValueTask<StanzaFilterResult> CopyReceived(XmlElement stanza, Jid from, Jid to)
    {
        if (stanza.Name != "message" || !IsEligible(stanza)) return new(StanzaFilterResult.Continue);
        if (stanza.Element("private", Namespace) is { } isPrivate)
        {
            stanza.Remove(isPrivate); // §9: the receiving server removes it; no copies
            return new(StanzaFilterResult.Continue);
        }
        if (HasNoCopyHint(stanza) || BareJidComparer.Instance.Equals(from, to)) return new(StanzaFilterResult.Continue);
        var resources = _server.Delivery.Of(to);
        var remotes = resources.Elsewhere;
        if (_enabled.IsEmpty && remotes.Length == 0) return new(StanzaFilterResult.Continue);
        var sessions = resources.Here;
        if (resources.IsEmpty) return new(StanzaFilterResult.Continue);
        var delivery = OriginalDelivery.Of(resources, to, stanza.GetAttribute("type"));
        XmlElement? original = null;
        foreach (var session in sessions)
        {
            if (!_enabled.ContainsKey(session) || delivery.Gets(session.Jid.Resource!, session.IsAvailable, session.Priority)) continue;
            original ??= stanza.Clone();
            _server.Delivery.TryDeliver(session, Wrap("received", stanza, original, session));
        }
        if (remotes.Length > 0)
        {
            var got = new List<string>();
            foreach (var r in remotes)
            {
                if (delivery.Gets(r.Jid.Resource!, r.IsAvailable, r.Priority)) got.Add(r.JidString);
            }
            _server.Cluster.SendAccountEvent(to.Bare, ClusterEvent, ClusterPayload("received", original ?? stanza.Clone(), got));
        }
        return new(StanzaFilterResult.Continue);
    }

    // ---- across cluster nodes --------------------------------------------------------------------------------------

    private const string ClusterEvent = "carbons";
    private const string ClusterNamespace = "urn:tendril:cluster:carbons";

    /// <summary><c>&lt;copy dir='sent|received'&gt;&lt;got jid='…'/&gt;… original&lt;/copy&gt;</c>: the resources listed get the original, not a copy.</summary>
    private static XmlElement ClusterPayload(string direction, XmlElement original, List<string> got)
    {
        var payload = new XmlElement("copy", ClusterNamespace).SetAttribute("dir", direction);
        foreach (var jid in got) payload.AddElement("got").SetAttribute("jid", jid);
        payload.Add(original);
        return payload;
    }

    /// <summary>Another node asks for copies to this node's carbons-enabled sessions of <paramref name="account"/>.</summary>
    private ValueTask OnClusterCopy(Jid account, XmlElement payload)
    {
        var direction = payload.GetAttribute("dir");
        if (direction is not ("sent" or "received") || payload.Element("message") is not { } original) return ValueTask.CompletedTask;
        foreach (var session in _server.Delivery.Here(account))
        {
            if (!_enabled.ContainsKey(session) || GotOriginal(payload, session.JidString)) continue;
            _server.Delivery.TryDeliver(session, Wrap(direction, original, original, session));
        }
        return ValueTask.CompletedTask;

        static bool GotOriginal(XmlElement payload, string jid)
        {
            foreach (var child in payload.Elements())
            {
                if (child.Name == "got" && child.GetAttribute("jid") == jid) return true;
            }
            return false;
        }
    }

    /// <summary>Which resources RFC 6121 §8.5 delivery (as the router applies it, across nodes) hands the original to.</summary>
    private readonly record struct OriginalDelivery(string? Addressed, bool AddressedExists, bool BounceMissing, int Best)
    {
        public static OriginalDelivery Of(AccountResources resources, Jid to, string? type)
        {
            var exists = false;
            var best = int.MinValue;
            foreach (var s in resources)
            {
                if (to.Resource is not null && s.Jid.Resource == to.Resource) exists = true;
                if (s.IsAvailable && s.Priority >= 0 && s.Priority > best) best = s.Priority;
            }
            // §8.5.3.2.1: a non-chat message to a missing resource is bounced: nobody gets it.
            return new OriginalDelivery(to.Resource, exists, to.Resource is not null && !exists && type != "chat", best);
        }

        public bool Gets(string resource, bool available, int priority)
        {
            if (AddressedExists) return resource == Addressed; // the addressed resource exists: only it
            if (BounceMissing) return false;
            // To the bare JID (or chat to a missing resource): the available resources of the highest non-negative priority.
            return Best != int.MinValue && available && priority == Best;
        }
    }

    /// <summary>§6: chat, or normal with a body; not from a MUC; not a carbon itself.</summary>
    private static bool IsEligible(XmlElement message)
    {
        var type = message.GetAttribute("type") ?? "normal";
        var eligible = type == "chat" || (type == "normal" && message.Element("body") is not null);
        return eligible
            && message.Element("x", MucUserNamespace) is null
            && message.Element("sent", Namespace) is null
            && message.Element("received", Namespace) is null;
    }

    private static bool HasNoCopyHint(XmlElement message) =>
        message.Element("private", Namespace) is not null || message.Element("no-copy", HintsNamespace) is not null;

    private XmlElement Wrap(string direction, XmlElement stanza, XmlElement original, C2sSession recipient)
    {
        var copy = new XmlElement("message", Ns.Client)
            .SetAttribute("from", recipient.Jid.Bare.ToString())
            .SetAttribute("to", recipient.JidString);
        if (stanza.GetAttribute("type") is { } type) copy.SetAttribute("type", type);
        copy.AddElement(direction, Namespace).AddElement("forwarded", ForwardNamespace).Add(original);
        return copy;
    }
}

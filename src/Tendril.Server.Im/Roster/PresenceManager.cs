using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Roster;

/// <summary>
/// Presence with rosters (RFC 6121 §4): broadcast of available and unavailable presence to the contacts subscribed
/// to the user, probes on initial presence answered from the session table (the server answers for its own users,
/// §4.3.2), pending subscription requests redelivered at initial presence, and probe/subscription stanzas handed to
/// <see cref="SubscriptionManager"/>.
/// </summary>
internal sealed class PresenceManager(XmppServer server, SubscriptionManager subscriptions) : IPresenceHandler
{
    public async ValueTask OnBroadcastAsync(C2sSession session, XmlElement presence, bool wasAvailable, IReadOnlyList<Jid> directed)
    {
        var user = session.Jid.Bare;
        var available = presence.GetAttribute("type") is null;
        if (available)
        {
            var roster = await server.Storage.Rosters.GetAsync(user.Domain, user.Local!).ConfigureAwait(false);
            // §4.2.2 / §4.4.2: to every contact with a subscription to the user (from/both).
            var serialized = new SerializedStanza(presence);
            foreach (var contact in LocalContacts(roster, to: false))
            {
                await SendToContactAsync(presence, serialized, session.Jid, contact).ConfigureAwait(false);
            }
            if (!wasAvailable) await OnInitialPresenceAsync(session, user, roster).ConfigureAwait(false);
            return;
        }

        // §4.5.2: unavailable presence to the subscribers who saw the user available, and to every entity that got
        // directed presence (§4.6.3), once each.
        var covered = new HashSet<Jid>(BareJidComparer.Instance);
        if (wasAvailable)
        {
            var roster = await server.Storage.Rosters.GetAsync(user.Domain, user.Local!).ConfigureAwait(false);
            var serialized = new SerializedStanza(presence);
            foreach (var contact in LocalContacts(roster, to: false))
            {
                covered.Add(contact);
                await SendToContactAsync(presence, serialized, session.Jid, contact).ConfigureAwait(false);
            }
        }
        foreach (var jid in directed)
        {
            if (jid.Local is not null && jid.Domain == server.Domain && covered.Contains(jid)) continue;
            await server.Router.RouteAsync(presence, session.Jid, jid).ConfigureAwait(false);
        }
    }

    /// <summary>Broadcast presence to every available session of one contact, on this node and on the others.</summary>
    private async ValueTask SendToContactAsync(XmlElement presence, SerializedStanza serialized, Jid from, Jid contact)
    {
        if (server.Delivery.Of(contact).IsEmpty || await server.Features.FilterInboundAsync(presence, from, contact).ConfigureAwait(false) == StanzaFilterResult.Drop) return;
        server.Delivery.ToAvailable(contact, serialized);
    }

    /// <summary>
    /// A resource of this server's user vanished without telling its contacts (its cluster node died and this node
    /// purged it): unavailable presence from it to the user's other resources and to its subscribers (RFC 6121 §4.5.2,
    /// as the server does when a session ends without unavailable presence, §4.6.3).
    /// </summary>
    public async ValueTask OnResourceGoneAsync(Jid fullJid)
    {
        var user = fullJid.Bare;
        var presence = new XmlElement("presence", Ns.Client).SetAttribute("type", "unavailable").SetAttribute("from", fullJid.ToString());
        server.Delivery.ToAvailable(user, presence);
        var roster = await server.Storage.Rosters.GetAsync(user.Domain, user.Local!).ConfigureAwait(false);
        var serialized = new SerializedStanza(presence);
        foreach (var contact in LocalContacts(roster, to: false))
        {
            await SendToContactAsync(presence, serialized, fullJid, contact).ConfigureAwait(false);
        }
    }

    private async ValueTask OnInitialPresenceAsync(C2sSession session, Jid user, RosterSnapshot roster)
    {
        // §4.2.2 probes to the contacts the user is subscribed to (to/both), answered here for local contacts.
        foreach (var contact in LocalContacts(roster, to: true))
        {
            await AnswerProbeAsync(contact, session).ConfigureAwait(false);
        }
        // The user's other available resources (a self-probe).
        foreach (var other in server.Delivery.Of(user))
        {
            if (other != session && other.IsAvailable && other.LastPresence is { } last) server.Delivery.TryDeliver(session, new SerializedStanza(last));
        }
        // §3.1.3: subscription requests that arrived while the user was away, until answered.
        foreach (var pending in await server.Storage.Rosters.ListPendingAsync(user.Domain, user.Local!).ConfigureAwait(false))
        {
            if (StoredStanza.Parse(pending.Stanza) is { } stanza) server.Delivery.TryDeliver(session, stanza);
        }
    }

    /// <summary>
    /// §4.3.2: the last presence of each available resource of <paramref name="contact"/> to <paramref name="recipient"/>,
    /// or unavailable presence from the contact's bare JID when none is available.
    /// </summary>
    private async ValueTask AnswerProbeAsync(Jid contact, C2sSession recipient)
    {
        var any = false;
        // Sessions on other nodes answer from the routing table's last broadcast presence: no round trip to their node.
        foreach (var c in server.Delivery.Of(contact))
        {
            if (!c.IsAvailable || c.LastPresence is not { } last) continue;
            any = true;
            if (await server.Features.FilterInboundAsync(last, c.Jid, recipient.Jid).ConfigureAwait(false) == StanzaFilterResult.Drop) continue;
            server.Delivery.TryDeliver(recipient, new SerializedStanza(last));
        }
        if (!any)
        {
            var unavailable = new XmlElement("presence", Ns.Client).SetAttribute("type", "unavailable").SetAttribute("from", contact.Bare.ToString());
            if (await server.Features.FilterInboundAsync(unavailable, contact.Bare, recipient.Jid).ConfigureAwait(false) == StanzaFilterResult.Drop) return;
            server.Delivery.TryDeliver(recipient, new SerializedStanza(unavailable));
        }
    }

    public async ValueTask OnSubscriptionAsync(XmlElement presence, string type, Jid from, Jid to, C2sSession? origin)
    {
        if (type != "probe")
        {
            await subscriptions.OutboundAsync(presence, type, from, to).ConfigureAwait(false);
            return;
        }
        // A probe from a client (RFC 6121 §4.3): answered only when the prober is subscribed to the contact's presence
        // (or is the same account); otherwise nothing is revealed.
        var contact = to.Bare;
        var authorized = from.Bare == contact;
        if (!authorized && subscriptions.IsLocalAccount(from))
        {
            var item = await server.Storage.Rosters.GetItemAsync(contact.Domain, contact.Local!, from.Bare.ToString()).ConfigureAwait(false);
            authorized = item is { Subscription: RosterSubscription.From or RosterSubscription.Both };
        }
        if (!authorized) return;
        if (from.Resource is not null)
        {
            if (server.Delivery.FindHere(from) is { } session) await AnswerProbeAsync(contact, session).ConfigureAwait(false);
            return;
        }
        foreach (var s in server.Delivery.Here(from))
        {
            if (s.IsAvailable) await AnswerProbeAsync(contact, s).ConfigureAwait(false);
        }
    }

    /// <summary>Local contacts of the roster the user is subscribed to (<paramref name="to"/>) or that are subscribed to the user.</summary>
    private IEnumerable<Jid> LocalContacts(RosterSnapshot roster, bool to)
    {
        foreach (var item in roster.Items)
        {
            var match = to
                ? item.Subscription is RosterSubscription.To or RosterSubscription.Both
                : item.Subscription is RosterSubscription.From or RosterSubscription.Both;
            if (!match || !Jid.TryParse(item.Jid, out var jid) || !subscriptions.IsLocalAccount(jid)) continue;
            yield return jid.Bare;
        }
    }
}

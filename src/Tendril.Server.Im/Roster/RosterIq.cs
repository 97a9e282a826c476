using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Configuration;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Roster;

/// <summary>
/// jabber:iq:roster get and set (RFC 6121 §2.1–§2.5) with versioning (§2.6). Only the account's own resources may
/// read or change its roster (§2.1.5, §2.3.3 forbidden).
/// </summary>
internal sealed class RosterIq(XmppServer server, AccountLocks locks, RosterPusher pusher, SubscriptionManager subscriptions)
{
    /// <summary>Longest 'name' and group name accepted (RFC 6121 §2.3.3 lets the server choose; not-acceptable beyond).</summary>
    public const int MaxNameLength = 1023;

    public async ValueTask HandleAsync(IqRequest request)
    {
        if (request.To != request.From.Bare || request.Origin is null)
        {
            request.ReplyError(StanzaErrorCondition.Forbidden);
            return;
        }
        if (request.IsGet) await GetAsync(request).ConfigureAwait(false);
        else await SetAsync(request).ConfigureAwait(false);
    }

    private async ValueTask GetAsync(IqRequest request)
    {
        var user = request.From.Bare;
        var clientVersion = request.Payload.GetAttribute("ver");
        pusher.MarkInterested(request.Origin!, versioning: clientVersion is not null);
        if (clientVersion is not null && RosterXml.TryParseVersion(clientVersion, out var since)
            && await server.Storage.Rosters.GetChangesSinceAsync(user.Domain, user.Local!, since).ConfigureAwait(false) is { } delta)
        {
            // §2.6.3: the client's version is known: an empty result, then one push per item changed since (its last
            // change, in version order, each with the version it produced; removals as subscription='remove').
            request.Reply();
            foreach (var change in delta.Changes) pusher.PushTo(request.Origin!, change);
            return;
        }
        // No versioning, or a version this store cannot bring up to date (unknown, too old, not ours): the whole roster,
        // with the current version when the client uses versioning.
        var roster = await server.Storage.Rosters.GetAsync(user.Domain, user.Local!).ConfigureAwait(false);
        var query = new XmlElement("query", Ns.Roster);
        if (clientVersion is not null) query.SetAttribute("ver", RosterXml.Version(roster.Version));
        foreach (var item in roster.Items) query.Add(RosterXml.Item(item));
        request.Reply(query);
    }

    private async ValueTask SetAsync(IqRequest request)
    {
        var user = request.From.Bare;
        var items = new List<XmlElement>();
        foreach (var e in request.Payload.Elements("item", Ns.Roster)) items.Add(e);
        if (items.Count != 1)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest, "A roster set carries exactly one item.");
            return;
        }
        var element = items[0];
        var jidText = element.GetAttribute("jid");
        if (jidText is null)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest, "The item has no 'jid'.");
            return;
        }
        if (!Jid.TryParse(jidText, out var jid))
        {
            request.ReplyError(StanzaErrorCondition.JidMalformed);
            return;
        }
        var key = jid.ToString();

        if (element.GetAttribute("subscription") == "remove")
        {
            // §2.5: remove, with unsubscribe/unsubscribed to the contact.
            if (!await subscriptions.RemoveItemAsync(user, key, () => request.Reply()).ConfigureAwait(false))
            {
                request.ReplyError(StanzaErrorCondition.ItemNotFound);
            }
            return;
        }
        if (jid.Bare == user)
        {
            request.ReplyError(StanzaErrorCondition.NotAllowed, "The user's own JID cannot be a roster item.");
            return;
        }
        var name = element.GetAttribute("name");
        if (name is not null && name.Length > MaxNameLength)
        {
            request.ReplyError(StanzaErrorCondition.NotAcceptable, string.Create(CultureInfo.InvariantCulture, $"The name is longer than {MaxNameLength} characters."));
            return;
        }
        var groups = new List<string>();
        foreach (var g in element.Elements("group", Ns.Roster))
        {
            var text = g.Text;
            if (text.Length == 0 || text.Length > MaxNameLength)
            {
                request.ReplyError(StanzaErrorCondition.NotAcceptable, "A group name is empty or too long.");
                return;
            }
            if (groups.Contains(text))
            {
                request.ReplyError(StanzaErrorCondition.BadRequest, "The item has the same group twice.");
                return;
            }
            groups.Add(text);
        }

        // §2.3/§2.4: add or update; 'subscription' (other than remove), 'ask' and 'approved' from the client are ignored.
        RosterItem updated;
        long version;
        using (await locks.AcquireAsync(user).ConfigureAwait(false))
        {
            var existing = await server.Storage.Rosters.GetItemAsync(user.Domain, user.Local!, key).ConfigureAwait(false);
            if (existing is null && (await server.Storage.Rosters.CountAsync(user.Domain, user.Local!).ConfigureAwait(false)).Items >= server.Options.Roster.MaxItems)
            {
                // Issue 19: a roster is bounded, so a roster get is too.
                request.ReplyError(StanzaErrorCondition.NotAllowed, string.Create(CultureInfo.InvariantCulture, $"The roster is full ({server.Options.Roster.MaxItems} items)."));
                return;
            }
            updated = (existing ?? RosterItem.Create(key)) with { Name = string.IsNullOrEmpty(name) ? null : name, Groups = groups };
            version = await server.Storage.Rosters.SetItemAsync(user.Domain, user.Local!, updated).ConfigureAwait(false);
        }
        request.Reply();
        pusher.Push(user, updated, version);
    }
}

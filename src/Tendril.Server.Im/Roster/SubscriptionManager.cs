using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Configuration;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Roster;

/// <summary>
/// Presence subscriptions between local accounts (RFC 6121 §3, Appendix A). Each stanza is processed twice, as two
/// servers would: outbound on the sender's roster (A.2), then inbound on the recipient's roster (A.3). Every state
/// change is persisted and pushed to the owner's interested resources; stanzas are routed and delivered only where
/// the tables say so. A request to a contact with no available resource stays pending and is delivered at the
/// contact's next initial presence.
/// </summary>
internal sealed class SubscriptionManager(XmppServer server, AccountLocks locks, RosterPusher pusher)
{
    private IRosterStore Rosters => server.Storage.Rosters;

    /// <param name="Refused">Nothing was changed: the roster is full or too many requests are pending (the error to send).</param>
    private readonly record struct Change(SubscriptionState Old, SubscriptionState New, StanzaError? Refused = null)
    {
        public bool StateChanged => Old != New;
    }

    public bool IsLocalAccount(Jid jid) => jid.Local is not null && jid.Domain == server.Domain;

    /// <summary>A subscription stanza a local user sent (stamped <paramref name="from"/>) to a local account.</summary>
    public async ValueTask OutboundAsync(XmlElement presence, string type, Jid from, Jid to)
    {
        var user = from.Bare;
        var contact = to.Bare;
        if (user == contact) return; // a subscription to oneself means nothing (the user always sees their own presence)
        if (!IsLocalAccount(user))
        {
            // Not from a local account (a hosted service, the server): there is no sender roster, only the recipient's.
            await InboundAsync(RosterXml.Stamp(presence, type, user, contact), type, user, contact).ConfigureAwait(false);
            return;
        }
        var stamped = RosterXml.Stamp(presence, type, user, contact);
        switch (type)
        {
            case "subscribe":
            {
                // §3.1.2: the item is created if needed; the request is routed whatever the state.
                var change = await ApplyAsync(user, contact, (s, _) => (SubscriptionTransitions.OutboundSubscribe(s), null), createItem: true).ConfigureAwait(false);
                if (Refuse(change, presence, from)) return;
                await InboundAsync(stamped, type, user, contact).ConfigureAwait(false);
                break;
            }
            case "subscribed":
            {
                // §3.1.5 approval of a pending request, or §3.4 pre-approval when none is pending.
                var change = await ApplyAsync(user, contact, (s, _) =>
                    s.PendingIn ? (SubscriptionTransitions.OutboundSubscribed(s), null)
                    : s.HasFrom ? (s, null)
                    : (s, true)).ConfigureAwait(false);
                if (Refuse(change, presence, from) || !change.StateChanged) return;
                await InboundAsync(stamped, type, user, contact).ConfigureAwait(false);
                SendCurrentPresence(user, contact);
                break;
            }
            case "unsubscribe":
                // §3.3.2: routed whatever the state.
                await ApplyAsync(user, contact, (s, _) => (SubscriptionTransitions.OutboundUnsubscribe(s), null)).ConfigureAwait(false);
                await InboundAsync(stamped, type, user, contact).ConfigureAwait(false);
                break;
            case "unsubscribed":
            {
                // §3.2.2 cancel or deny; also cancels a pre-approval (§3.4).
                var change = await ApplyAsync(user, contact, (s, _) => (SubscriptionTransitions.OutboundUnsubscribed(s), false)).ConfigureAwait(false);
                if (!change.StateChanged) return;
                await InboundAsync(stamped, type, user, contact).ConfigureAwait(false);
                if (change.Old.HasFrom) SendUnavailable(user, contact);
                break;
            }
        }
    }

    /// <summary>A subscription stanza from <paramref name="sender"/> arriving for the local account <paramref name="recipient"/> (A.3).</summary>
    private async ValueTask InboundAsync(XmlElement stanza, string type, Jid sender, Jid recipient)
    {
        if (await server.Storage.Accounts.FindAsync(recipient.Domain, recipient.Local!).ConfigureAwait(false) is null)
        {
            // §8.5.1: a request to a user that does not exist is rejected on the user's behalf.
            if (type == "subscribe" && IsLocalAccount(sender))
            {
                await InboundAsync(RosterXml.Presence("unsubscribed", recipient, sender), "unsubscribed", recipient, sender).ConfigureAwait(false);
            }
            return;
        }
        switch (type)
        {
            case "subscribe":
            {
                var pending = StoredStanza.Serialize(stanza);
                var change = await ApplyAsync(recipient, sender, (s, item) =>
                    s.HasFrom ? (s, null)
                    : item?.Approved == true ? (s.WithFrom(true) with { PendingIn = false }, false)
                    : (SubscriptionTransitions.InboundSubscribe(s), null), pendingStanza: pending).ConfigureAwait(false);
                if (change.Refused is { } refused)
                {
                    server.Router.BounceError(stanza, refused);
                    return;
                }
                if (change.Old.HasFrom || change.New.HasFrom)
                {
                    // §3.1.3: already subscribed, or pre-approved (§3.4): the server approves on the user's behalf.
                    if (IsLocalAccount(sender))
                    {
                        await InboundAsync(RosterXml.Presence("subscribed", recipient, sender), "subscribed", recipient, sender).ConfigureAwait(false);
                        if (change.StateChanged) SendCurrentPresence(recipient, sender);
                    }
                    return;
                }
                DeliverToAvailable(recipient, stanza); // and kept pending for resources that come online later
                break;
            }
            case "subscribed":
            {
                var change = await ApplyAsync(recipient, sender, (s, _) => (SubscriptionTransitions.InboundSubscribed(s), null)).ConfigureAwait(false);
                if (change.StateChanged) DeliverToAvailable(recipient, stanza);
                break;
            }
            case "unsubscribe":
            {
                var change = await ApplyAsync(recipient, sender, (s, _) => (SubscriptionTransitions.InboundUnsubscribe(s), null)).ConfigureAwait(false);
                if (!change.StateChanged) return;
                DeliverToAvailable(recipient, stanza);
                // §3.3.3: the sender no longer sees the recipient.
                if (change.Old.HasFrom && IsLocalAccount(sender)) SendUnavailable(recipient, sender);
                break;
            }
            case "unsubscribed":
            {
                var change = await ApplyAsync(recipient, sender, (s, _) => (SubscriptionTransitions.InboundUnsubscribed(s), null)).ConfigureAwait(false);
                if (change.StateChanged) DeliverToAvailable(recipient, stanza);
                break;
            }
        }
    }

    /// <summary>
    /// Removes a roster item (RFC 6121 §2.5.2): pushes the removal and cancels both directions of the subscription
    /// with unsubscribe / unsubscribed to the contact. False when there was no such item. <paramref name="removed"/>
    /// runs once the item is gone, before the push (the iq result precedes the push, as in §2.5.2).
    /// </summary>
    public async ValueTask<bool> RemoveItemAsync(Jid user, string itemJid, Action removed)
    {
        SubscriptionState old;
        using (await locks.AcquireAsync(user).ConfigureAwait(false))
        {
            var item = await Rosters.GetItemAsync(user.Domain, user.Local!, itemJid).ConfigureAwait(false);
            if (item is null) return false;
            var pending = await Rosters.GetPendingAsync(user.Domain, user.Local!, itemJid).ConfigureAwait(false);
            old = new SubscriptionState(item.Subscription, item.Ask, pending is not null);
            var version = await Rosters.RemoveItemAsync(user.Domain, user.Local!, itemJid).ConfigureAwait(false);
            if (pending is not null) await Rosters.RemovePendingAsync(user.Domain, user.Local!, itemJid).ConfigureAwait(false);
            removed();
            if (version is not null) pusher.PushRemoved(user, itemJid, version.Value);
        }
        if (!Jid.TryParse(itemJid, out var contact) || !IsLocalAccount(contact)) return true; // no federation: nobody to tell
        contact = contact.Bare;
        if (old.HasTo || old.PendingOut)
        {
            await InboundAsync(RosterXml.Presence("unsubscribe", user, contact), "unsubscribe", user, contact).ConfigureAwait(false);
        }
        if (old.HasFrom || old.PendingIn)
        {
            await InboundAsync(RosterXml.Presence("unsubscribed", user, contact), "unsubscribed", user, contact).ConfigureAwait(false);
            if (old.HasFrom) SendUnavailable(user, contact);
        }
        return true;
    }

    /// <summary>
    /// Applies a transition to <paramref name="owner"/>'s state for <paramref name="contact"/> under the owner's lock,
    /// persists the item and the pending request, and pushes a changed item. The transition may also set or clear the
    /// pre-approval flag (null: unchanged); the flag is consumed once the contact is subscribed.
    /// </summary>
    private async ValueTask<Change> ApplyAsync(Jid owner, Jid contact, Func<SubscriptionState, RosterItem?, (SubscriptionState State, bool? Approved)> transition,
        bool createItem = false, string? pendingStanza = null)
    {
        var key = contact.ToString();
        using (await locks.AcquireAsync(owner).ConfigureAwait(false))
        {
            var item = await Rosters.GetItemAsync(owner.Domain, owner.Local!, key).ConfigureAwait(false);
            var pending = await Rosters.GetPendingAsync(owner.Domain, owner.Local!, key).ConfigureAwait(false);
            var old = new SubscriptionState(item?.Subscription ?? RosterSubscription.None, item?.Ask ?? false, pending is not null);
            var (next, approved) = transition(old, item);

            var needsItem = item is not null || createItem || next.Subscription != RosterSubscription.None || next.PendingOut || approved == true;
            if (await CheckLimitsAsync(owner, item is null && needsItem, !old.PendingIn && next.PendingIn && pendingStanza is not null).ConfigureAwait(false) is { } refused)
            {
                return new Change(old, old, refused);
            }
            if (needsItem)
            {
                var baseItem = item ?? RosterItem.Create(key);
                var updated = baseItem with { Subscription = next.Subscription, Ask = next.PendingOut, Approved = approved ?? baseItem.Approved };
                if (updated.Approved && next.HasFrom) updated = updated with { Approved = false };
                if (item is null || updated != item)
                {
                    var version = await Rosters.SetItemAsync(owner.Domain, owner.Local!, updated).ConfigureAwait(false);
                    pusher.Push(owner, updated, version);
                }
            }
            if (old.PendingIn && !next.PendingIn)
            {
                await Rosters.RemovePendingAsync(owner.Domain, owner.Local!, key).ConfigureAwait(false);
            }
            else if (next.PendingIn && pendingStanza is not null)
            {
                await Rosters.SetPendingAsync(owner.Domain, owner.Local!, new PendingSubscription(key, pendingStanza, server.Time.GetUtcNow())).ConfigureAwait(false);
            }
            return new Change(old, next);
        }
    }

    /// <summary>
    /// Issue 19: a roster holds at most <c>Roster:MaxItems</c> items and an account at most <c>Roster:MaxPendingRequests</c>
    /// pending requests; the error for a change that would pass either, null when it is within them.
    /// </summary>
    private async ValueTask<StanzaError?> CheckLimitsAsync(Jid owner, bool addsItem, bool addsPending)
    {
        if (!addsItem && !addsPending) return null;
        var limits = server.Options.Roster;
        var (items, pending) = await Rosters.CountAsync(owner.Domain, owner.Local!).ConfigureAwait(false);
        if (addsItem && items >= limits.MaxItems)
        {
            return StanzaError.Of(StanzaErrorCondition.NotAllowed, string.Create(CultureInfo.InvariantCulture, $"The roster is full ({limits.MaxItems} items)."));
        }
        if (addsPending && pending >= limits.MaxPendingRequests)
        {
            return StanzaError.Of(StanzaErrorCondition.ResourceConstraint, "The contact has too many subscription requests pending.");
        }
        return null;
    }

    /// <summary>A refused change of the user's own roster: the user's stanza comes back with the error. True when refused.</summary>
    private bool Refuse(Change change, XmlElement presence, Jid from)
    {
        if (change.Refused is not { } refused) return false;
        server.Router.DeliverFromServer(refused.ToReply(presence), from);
        return true;
    }

    /// <summary>Delivers a subscription stanza to every available resource of the account.</summary>
    private void DeliverToAvailable(Jid account, XmlElement stanza) => server.Delivery.ToAvailable(account, stanza);

    /// <summary>Sends the current presence of each available resource of <paramref name="from"/> to <paramref name="to"/>'s available resources (§3.1.5).</summary>
    public void SendCurrentPresence(Jid from, Jid to)
    {
        foreach (var s in server.Delivery.Of(from))
        {
            if (s.IsAvailable && s.LastPresence is { } last) server.Delivery.ToAvailable(to, new SerializedStanza(last));
        }
    }

    /// <summary>Sends unavailable presence from each available resource of <paramref name="from"/> to <paramref name="to"/>'s available resources (§3.2.2, §3.3.3).</summary>
    public void SendUnavailable(Jid from, Jid to)
    {
        foreach (var s in server.Delivery.Of(from))
        {
            if (s.IsAvailable) server.Delivery.ToAvailable(to, new SerializedStanza(new XmlElement("presence", Ns.Client).SetAttribute("type", "unavailable").SetAttribute("from", s.JidString)));
        }
    }
}

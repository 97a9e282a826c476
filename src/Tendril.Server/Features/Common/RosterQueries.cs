using Tendril.Protocol;
using Tendril.Storage;

namespace Tendril.Server.Features;

/// <summary>
/// Roster questions other features ask for access control, e.g. the "presence" and "roster" access models of
/// publish-subscribe (XEP-0060 §4.5): is an entity subscribed to an owner's presence, is it in one of the owner's
/// roster groups. Registered in DI; reads storage only (no state of its own).
/// </summary>
public sealed class RosterQueries(IStorage storage)
{
    /// <summary>
    /// True when <paramref name="contact"/> (any resource) is subscribed to <paramref name="owner"/>'s presence: the
    /// owner's roster has the contact with subscription 'from' or 'both'. An owner is always subscribed to itself.
    /// </summary>
    public async ValueTask<bool> HasPresenceSubscriptionAsync(Jid owner, Jid contact)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(contact);
        if (owner.Bare == contact.Bare) return true;
        if (owner.Local is null) return false;
        var item = await storage.Rosters.GetItemAsync(owner.Domain, owner.Local, contact.Bare.ToString()).ConfigureAwait(false);
        return item is { Subscription: RosterSubscription.From or RosterSubscription.Both };
    }

    /// <summary>The owner's roster item for the contact's bare JID, or null.</summary>
    public async ValueTask<RosterItem?> FindItemAsync(Jid owner, Jid contact)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(contact);
        if (owner.Local is null) return null;
        return await storage.Rosters.GetItemAsync(owner.Domain, owner.Local, contact.Bare.ToString()).ConfigureAwait(false);
    }

    /// <summary>
    /// True when <paramref name="contact"/>'s bare JID is in <paramref name="owner"/>'s roster in at least one of
    /// <paramref name="groups"/> (exact, case-sensitive group names). The owner always qualifies.
    /// </summary>
    public async ValueTask<bool> IsInRosterGroupAsync(Jid owner, Jid contact, IReadOnlyCollection<string> groups)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(groups);
        if (owner.Bare == contact.Bare) return true;
        if (owner.Local is null || groups.Count == 0) return false;
        var item = await storage.Rosters.GetItemAsync(owner.Domain, owner.Local, contact.Bare.ToString()).ConfigureAwait(false);
        if (item is null) return false;
        foreach (var group in item.Groups)
        {
            if (groups.Contains(group)) return true;
        }
        return false;
    }
}

namespace Tendril.Storage;

/// <summary>The subscription part of a roster item's state (RFC 6121 §2.1.2.5).</summary>
public enum RosterSubscription
{
    None = 0,

    /// <summary>The user is subscribed to the contact's presence.</summary>
    To = 1,

    /// <summary>The contact is subscribed to the user's presence.</summary>
    From = 2,

    Both = 3,
}

/// <summary>
/// One item of a user's roster (RFC 6121 §2.1.2): the contact's JID (normalized), the handle the user gave it, its
/// groups, the subscription state, whether the user's own subscription request is pending (<c>ask='subscribe'</c>)
/// and whether the user pre-approved the contact's request (§3.4).
/// </summary>
public sealed record RosterItem(string Jid, string? Name, RosterSubscription Subscription, bool Ask, bool Approved, IReadOnlyList<string> Groups)
{
    public static RosterItem Create(string jid) => new(jid, null, RosterSubscription.None, false, false, []);
}

/// <summary>A whole roster with its version (a per-user counter, bumped by every change to an item).</summary>
public sealed record RosterSnapshot(long Version, IReadOnlyList<RosterItem> Items);

/// <summary>One change to a roster: the item as it is now (set or updated), or its removal (<see cref="Item"/> null).</summary>
/// <param name="Version">The roster version the change produced.</param>
public sealed record RosterChange(long Version, string Jid, RosterItem? Item);

/// <summary>
/// What changed in a roster after a version the client holds (RFC 6121 §2.6.3): the current version and the last change
/// of each item changed since, oldest first (so the last one carries <see cref="Version"/>).
/// </summary>
public sealed record RosterDelta(long Version, IReadOnlyList<RosterChange> Changes);

/// <summary>
/// A subscription request the user received and has not answered (the "Pending In" state, RFC 6121 §3.1.3), kept with
/// the original stanza so it can be delivered again at the user's next login.
/// </summary>
public sealed record PendingSubscription(string Jid, string Stanza, DateTimeOffset ReceivedAt);

/// <summary>
/// Rosters and pending inbound subscription requests, per account (domain, normalized username). Items and pending
/// requests of an account are deleted with it.
/// </summary>
public interface IRosterStore
{
    ValueTask<RosterSnapshot> GetAsync(string domain, string username, CancellationToken cancellationToken = default);

    ValueTask<RosterItem?> GetItemAsync(string domain, string username, string jid, CancellationToken cancellationToken = default);

    /// <summary>How many items the roster has and how many inbound subscription requests are pending (for limits).</summary>
    ValueTask<(int Items, int Pending)> CountAsync(string domain, string username, CancellationToken cancellationToken = default);

    /// <summary>The current roster version (0 for a roster never changed).</summary>
    ValueTask<long> GetVersionAsync(string domain, string username, CancellationToken cancellationToken = default);

    /// <summary>
    /// The changes after version <paramref name="since"/>, or null when they are not known: a version newer than the
    /// roster's, or older than the oldest removal still kept (<see cref="RemovalsKept"/> per account; versions from
    /// before the store kept removals count as older). An unchanged roster gives an empty list.
    /// </summary>
    ValueTask<RosterDelta?> GetChangesSinceAsync(string domain, string username, long since, CancellationToken cancellationToken = default);

    /// <summary>Removed items remembered per account for <see cref="GetChangesSinceAsync"/>; older removals are forgotten.</summary>
    public const int RemovalsKept = 256;

    /// <summary>Creates or replaces the item; returns the roster's new version. Throws <see cref="StorageException"/> when the account does not exist.</summary>
    ValueTask<long> SetItemAsync(string domain, string username, RosterItem item, CancellationToken cancellationToken = default);

    /// <summary>Removes the item; returns the roster's new version, or null when there was no such item.</summary>
    ValueTask<long?> RemoveItemAsync(string domain, string username, string jid, CancellationToken cancellationToken = default);

    /// <summary>Records (or replaces) a pending inbound subscription request from <paramref name="jid"/>.</summary>
    ValueTask SetPendingAsync(string domain, string username, PendingSubscription pending, CancellationToken cancellationToken = default);

    /// <summary>Forgets the pending request from <paramref name="jid"/>; false when there was none.</summary>
    ValueTask<bool> RemovePendingAsync(string domain, string username, string jid, CancellationToken cancellationToken = default);

    ValueTask<PendingSubscription?> GetPendingAsync(string domain, string username, string jid, CancellationToken cancellationToken = default);

    /// <summary>Every pending request of the user, oldest first.</summary>
    ValueTask<IReadOnlyList<PendingSubscription>> ListPendingAsync(string domain, string username, CancellationToken cancellationToken = default);
}

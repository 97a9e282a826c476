namespace Tendril.Storage;

/// <summary>
/// A pubsub node (XEP-0060) of one service. <see cref="Service"/> is the service JID (<c>pubsub.example.org</c>, or an
/// account's bare JID for PEP); <see cref="Config"/> maps a <c>pubsub#…</c> field var to its value(s).
/// </summary>
public sealed record PubSubNodeRecord(
    string Service,
    string Node,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Config,
    string Creator,
    DateTimeOffset CreatedAt);

/// <summary>One published item: its payload is the serialized XML of the item's child (empty for notification-only items).</summary>
public sealed record PubSubItemRecord(
    string Service,
    string Node,
    string ItemId,
    string Publisher,
    string Payload,
    DateTimeOffset PublishedAt);

/// <summary>Subscription states of XEP-0060 §4.2 that are stored ("none" is the absence of a row).</summary>
public enum PubSubSubscriptionState
{
    Subscribed,
    Pending,
    Unconfigured,
}

/// <summary>A subscription of a JID (bare or full) to a node; one JID may hold several, told apart by <see cref="SubId"/>.</summary>
public sealed record PubSubSubscriptionRecord(
    string Service,
    string Node,
    string Jid,
    string SubId,
    PubSubSubscriptionState State,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Options);

/// <summary>An affiliation of a bare JID with a node (XEP-0060 §4.1): owner, publisher, publish-only, member, outcast ("none" is no row).</summary>
public sealed record PubSubAffiliationRecord(string Service, string Node, string Jid, string Affiliation);

/// <summary>Everything a service keeps in memory: its nodes, their subscriptions and affiliations, and each node's newest item.</summary>
public sealed record PubSubServiceSnapshot(
    IReadOnlyList<PubSubNodeRecord> Nodes,
    IReadOnlyList<PubSubSubscriptionRecord> Subscriptions,
    IReadOnlyList<PubSubAffiliationRecord> Affiliations,
    IReadOnlyList<PubSubItemRecord> LastItems);

/// <summary>A page of items, newest first, and the total number of items of the node (for RSM, XEP-0059).</summary>
public sealed record PubSubItemPage(IReadOnlyList<PubSubItemRecord> Items, int Count);

/// <summary>
/// Publish-subscribe storage (XEP-0060, and XEP-0163 PEP services keyed by the account's bare JID). Every call is
/// asynchronous and backend-neutral: JIDs, node ids and item ids are plain strings, payloads serialized XML. Deleting a
/// node deletes its items, subscriptions and affiliations. Items are ordered by publication: republishing an id
/// replaces the item and makes it the newest.
/// </summary>
public interface IPubSubStore
{
    /// <summary>Loads a whole service: nodes, subscriptions, affiliations and the newest item of every node (a fixed number of queries, however many nodes).</summary>
    ValueTask<PubSubServiceSnapshot> LoadServiceAsync(string service, CancellationToken cancellationToken = default);

    /// <summary>
    /// Loads several services at once (e.g. the PEP services of a user's contacts at login): one entry per requested
    /// service, an empty snapshot for a service with no nodes. Backends answer in a fixed number of queries however many
    /// services are asked; this default loads them one by one.
    /// </summary>
    async ValueTask<IReadOnlyDictionary<string, PubSubServiceSnapshot>> LoadServicesAsync(IReadOnlyCollection<string> services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        var result = new Dictionary<string, PubSubServiceSnapshot>(services.Count, StringComparer.Ordinal);
        foreach (var service in services)
        {
            if (!result.ContainsKey(service)) result[service] = await LoadServiceAsync(service, cancellationToken).ConfigureAwait(false);
        }
        return result;
    }

    /// <summary>Creates a node with its creator as owner (one transaction); false when the node exists.</summary>
    ValueTask<bool> CreateNodeAsync(PubSubNodeRecord node, CancellationToken cancellationToken = default);

    /// <summary>Replaces a node's configuration; false when the node does not exist.</summary>
    ValueTask<bool> UpdateNodeConfigAsync(string service, string node, IReadOnlyDictionary<string, IReadOnlyList<string>> config, CancellationToken cancellationToken = default);

    /// <summary>Deletes a node and everything it holds; false when it did not exist.</summary>
    ValueTask<bool> DeleteNodeAsync(string service, string node, CancellationToken cancellationToken = default);

    /// <summary>Stores (or replaces) an item and keeps at most <paramref name="maxItems"/> newest items of the node (no limit when null).</summary>
    ValueTask PublishItemAsync(PubSubItemRecord item, int? maxItems, CancellationToken cancellationToken = default);

    /// <summary>Deletes one item; false when it did not exist.</summary>
    ValueTask<bool> RetractItemAsync(string service, string node, string itemId, CancellationToken cancellationToken = default);

    /// <summary>Deletes every item of the node.</summary>
    ValueTask PurgeItemsAsync(string service, string node, CancellationToken cancellationToken = default);

    /// <summary>
    /// Items newest first: at most <paramref name="max"/> (all when null), starting after the item <paramref name="after"/>
    /// (older than it) or, when <paramref name="before"/> is given, the newest items that are newer than it
    /// (empty string: the oldest page). Count is the node's total.
    /// </summary>
    ValueTask<PubSubItemPage> GetItemsAsync(string service, string node, int? max, string? after = null, string? before = null, CancellationToken cancellationToken = default);

    /// <summary>The items with these ids that exist, newest first.</summary>
    ValueTask<IReadOnlyList<PubSubItemRecord>> GetItemsByIdAsync(string service, string node, IReadOnlyCollection<string> itemIds, CancellationToken cancellationToken = default);

    /// <summary>Creates or replaces a subscription (keyed by service, node, jid, subid).</summary>
    ValueTask SetSubscriptionAsync(PubSubSubscriptionRecord subscription, CancellationToken cancellationToken = default);

    /// <summary>Removes one subscription; false when it did not exist.</summary>
    ValueTask<bool> RemoveSubscriptionAsync(string service, string node, string jid, string subId, CancellationToken cancellationToken = default);

    /// <summary>Sets an affiliation; "none" removes it.</summary>
    ValueTask SetAffiliationAsync(string service, string node, string jid, string affiliation, CancellationToken cancellationToken = default);
}

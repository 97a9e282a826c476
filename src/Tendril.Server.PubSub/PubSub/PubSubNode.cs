using System.Collections.Immutable;
using Tendril.Protocol;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>A subscription as the engine keeps it: the parsed JID and what delivery needs.</summary>
public sealed record PubSubSubscription(Jid Jid, string SubId, PubSubSubscriptionState State, IReadOnlyDictionary<string, IReadOnlyList<string>> Options)
{
    /// <summary>pubsub#deliver (subscription options, XEP-0060 §6.3): false pauses notifications.</summary>
    public bool Deliver => !(Options.TryGetValue("pubsub#deliver", out var v) && v.Count > 0 && DataForm.ParseBool(v[0]) == false);

    public bool IsActive => State == PubSubSubscriptionState.Subscribed;
}

/// <summary>An item the node keeps in memory (the newest one, for send_last_published_item).</summary>
public sealed class PubSubItem(PubSubItemRecord record, XmlElement? payload)
{
    private XmlElement? _payload = payload;

    public PubSubItemRecord Record { get; } = record;

    public string Id => Record.ItemId;

    /// <summary>The payload element (parsed from storage on first use); null for notification-only items.</summary>
    public XmlElement? Payload => Record.Payload.Length == 0 ? null : _payload ??= PayloadXml.Parse(Record.Payload);
}

/// <summary>
/// One leaf node in memory, the cache in front of the store. Mutations run under <see cref="Gate"/> and write through
/// to storage before the in-memory state changes; affiliations and subscriptions are immutable snapshots swapped
/// under the gate, so permission checks and fan-out read them without locking.
/// </summary>
public sealed class PubSubNode(string id, NodeConfig config, string creator, DateTimeOffset createdAt)
{
    public string Id { get; } = id;

    public string Creator { get; } = creator;

    public DateTimeOffset CreatedAt { get; } = createdAt;

    /// <summary>Serializes mutations of this node (and notification order).</summary>
    internal SemaphoreSlim Gate { get; } = new(1, 1);

    public NodeConfig Config { get; internal set; } = config;

    /// <summary>Bare JID string → affiliation (owner, publisher, publish-only, member, outcast).</summary>
    public ImmutableDictionary<string, string> Affiliations { get; internal set; } = ImmutableDictionary.Create<string, string>(StringComparer.Ordinal);

    public ImmutableArray<PubSubSubscription> Subscriptions { get; internal set; } = [];

    public PubSubItem? LastItem { get; internal set; }

    /// <summary>Set once the node is deleted (requests that waited on the gate then answer item-not-found).</summary>
    public bool Deleted { get; internal set; }

    public string AffiliationOf(Jid jid) => Affiliations.TryGetValue(jid.Bare.ToString(), out var a) ? a : "none";

    public IEnumerable<Jid> Owners
    {
        get
        {
            foreach (var (jid, a) in Affiliations)
            {
                if (a == "owner") yield return Jid.Parse(jid);
            }
        }
    }

    /// <summary>The subscriptions of exactly this JID (bare or full, as subscribed).</summary>
    public IEnumerable<PubSubSubscription> SubscriptionsOf(Jid jid)
    {
        foreach (var s in Subscriptions)
        {
            if (s.Jid == jid) yield return s;
        }
    }

    public bool HasActiveSubscription(Jid requester)
    {
        foreach (var s in Subscriptions)
        {
            if (s.IsActive && (s.Jid == requester || s.Jid == requester.Bare)) return true;
        }
        return false;
    }
}

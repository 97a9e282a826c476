using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>
/// What the presence and roster access models (XEP-0060 §4.5) need to know about the node owner's roster.
/// Services of the server use <see cref="RosterAccessContext"/>, backed by the real rosters;
/// <see cref="NoRosterAccessContext"/> (the policy's default) answers "no subscription, not in the roster".
/// </summary>
public interface IPubSubAccessContext
{
    /// <summary>True when <paramref name="contact"/> has a presence subscription to <paramref name="owner"/> (subscription 'from' or 'both' in the owner's roster).</summary>
    ValueTask<bool> HasPresenceSubscriptionAsync(Jid owner, Jid contact, CancellationToken cancellationToken = default);

    /// <summary>The groups <paramref name="contact"/> is in, in <paramref name="owner"/>'s roster; empty when not in the roster.</summary>
    ValueTask<IReadOnlyList<string>> RosterGroupsAsync(Jid owner, Jid contact, CancellationToken cancellationToken = default);
}

/// <summary>An access context where nobody has a presence subscription and nobody is in a roster (the policy's default).</summary>
public sealed class NoRosterAccessContext : IPubSubAccessContext
{
    public static NoRosterAccessContext Instance { get; } = new();

    public ValueTask<bool> HasPresenceSubscriptionAsync(Jid owner, Jid contact, CancellationToken cancellationToken = default) => ValueTask.FromResult(false);

    public ValueTask<IReadOnlyList<string>> RosterGroupsAsync(Jid owner, Jid contact, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyList<string>>([]);
}

/// <summary>
/// The rules of one pubsub service that differ between a service like <c>pubsub.example.org</c> and a PEP service
/// (XEP-0163) at an account's bare JID: who may create nodes, the roster oracle, limits and default configuration.
/// </summary>
public sealed class PubSubServicePolicy
{
    /// <summary>Who may create nodes (default: any local account).</summary>
    public Func<Jid, bool> MayCreateNodes { get; init; } = _ => true;

    public IPubSubAccessContext Access { get; init; } = NoRosterAccessContext.Instance;

    /// <summary>The largest pubsub#max_items (and what "max" means).</summary>
    public int MaxItemsLimit { get; init; } = 1000;

    /// <summary>The largest item payload, in bytes of serialized XML (larger: not-acceptable + payload-too-big).</summary>
    public int MaxPayloadBytes { get; init; } = 64 * 1024;

    /// <summary>Nodes one account may own on the service (0: no limit).</summary>
    public int MaxNodesPerOwner { get; init; }

    public NodeConfig DefaultConfig { get; init; } = new();

    /// <summary>Publishing to a node that does not exist creates it (XEP-0163 §4.1 "auto-create"), with publish-options as its configuration.</summary>
    public bool AutoCreateOnPublish { get; init; }

    /// <summary>
    /// Extra delivery of events beyond explicit subscriptions (PEP's implicit subscription through presence,
    /// XEP-0163 §4.3): called under the node's gate with the node and the event content — &lt;items/&gt; (published
    /// or retracted items), &lt;delete/&gt; (§8.4.2) or &lt;purge/&gt; (§8.5.2).
    /// </summary>
    public Func<PubSubService, PubSubNode, XmlElement, ValueTask>? ImplicitDelivery { get; init; }

    /// <summary>
    /// Called after an item was published (with the &lt;items/&gt; event holding it) or retracted (an &lt;items/&gt;
    /// with the &lt;retract/&gt;), once the node's gate is released: server-side reactions such as PEP conversions.
    /// </summary>
    public Func<PubSubService, string, XmlElement, ValueTask>? Changed { get; init; }

    /// <summary>The name in the service's disco#info identity.</summary>
    public string Name { get; init; } = "Publish-Subscribe";
}

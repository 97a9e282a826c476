using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Cluster;

/// <summary>
/// The seam between the server core and a cluster of nodes serving one domain. The core reports its own sessions
/// (bind, presence change, unbind), asks for the sessions other nodes hold (from a local replica: no network round trip
/// on the routing path) and hands stanzas for them to <see cref="TryDeliver"/>. A single node uses
/// <see cref="SingleNode"/>, which answers "nobody elsewhere" and costs nothing. The Redis implementation lives in
/// <c>Tendril.Cluster</c>; see docs/cluster.md.
/// </summary>
public interface IClusterBackend
{
    /// <summary>False for the single-node default: callers may skip cluster work entirely.</summary>
    bool IsClustered { get; }

    /// <summary>This node's identity ("" on a single node).</summary>
    string NodeId { get; }

    /// <summary>Called once by the server's constructor.</summary>
    void Attach(XmppServer server);

    /// <summary>Joins the cluster before the listeners open.</summary>
    Task StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Leaves the cluster after every local session ended (clean shutdown).</summary>
    Task StopAsync();

    /// <summary>The sessions of <paramref name="jid"/>'s account bound on other nodes (resource ignored); a snapshot, never null.</summary>
    RemoteSession[] FindAll(Jid jid);

    /// <summary>
    /// Like <see cref="FindAll"/>, but read from the shared routing table itself (one network round trip; the local
    /// replica lags it by the events channel's delay), and the replica is brought up to that state. Not for routing: for
    /// rare decisions that must not act on a replica a moment behind, such as whether a message just stored offline has
    /// an available recipient after all. Falls back to the replica when the table cannot be read.
    /// </summary>
    ValueTask<RemoteSession[]> RefreshAsync(Jid account) => ValueTask.FromResult(FindAll(account));

    /// <summary>The session bound on another node to exactly this full JID, or null.</summary>
    RemoteSession? Find(Jid fullJid);

    /// <summary>
    /// Queues <paramref name="stanza"/> for the session on its node, which delivers it in order. With
    /// <paramref name="addressToTarget"/> the receiving node sets 'to' to the session's full JID (broadcast presence,
    /// like <see cref="SerializedStanza"/>). False when the node's queue is full (the caller bounces with a wait error).
    /// </summary>
    bool TryDeliver(RemoteSession target, XmlElement stanza, bool addressToTarget = false);

    /// <summary>A session was bound here (after the local table took it). Replaces an older binding of the same full JID on another node.</summary>
    ValueTask SessionBoundAsync(C2sSession session);

    /// <summary>A session's availability, priority or broadcast presence changed.</summary>
    ValueTask SessionChangedAsync(C2sSession session);

    /// <summary>
    /// The set of entities a session sent directed available presence to changed (RFC 6121 §4.6): the survivors of this
    /// node's death tell them it is gone. Not waited for.
    /// </summary>
    void DirectedPresenceChanged(C2sSession session)
    {
    }

    /// <summary>A session left the local table.</summary>
    ValueTask SessionUnboundAsync(C2sSession session);

    /// <summary>
    /// Sends an account-wide event (roster push, carbon copy…) to every other node holding a session of
    /// <paramref name="account"/>; there the handler registered under <paramref name="name"/> applies it to its local sessions.
    /// </summary>
    void SendAccountEvent(Jid account, string name, XmlElement payload);

    /// <summary>
    /// Sends an event to every other node of the cluster (the handler registered under <paramref name="name"/> runs
    /// there with the domain's JID as the account): cache invalidations of domain-wide state such as pubsub services.
    /// </summary>
    void SendClusterEvent(string name, XmlElement payload);

    /// <summary>
    /// Raised when this node may have missed events of other nodes: it found itself missing from the cluster (declared
    /// dead while it stalled, or Redis lost its state) and re-joined. Every per-account copy kept coherent by events
    /// must be dropped and read again.
    /// </summary>
    event Action? EventsMissed
    {
        add { }
        remove { }
    }

    /// <summary>Registers the handler of account events named <paramref name="name"/> (features call it while registering).</summary>
    void OnAccountEvent(string name, Func<Jid, XmlElement, ValueTask> handler);
}

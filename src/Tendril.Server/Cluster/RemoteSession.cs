using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Cluster;

/// <summary>
/// A resource bound on another node of the cluster, as this node's replica of the routing table knows it. Immutable:
/// a change on the owning node replaces the object. Routing reads it exactly like a local <see cref="Routing.C2sSession"/>
/// (availability, priority, last broadcast presence) and hands stanzas for it to <see cref="IClusterBackend.TryDeliver"/>.
/// </summary>
public sealed class RemoteSession(Jid jid, string nodeId, int priority, bool isAvailable, XmlElement? lastPresence) : Routing.IBoundResource
{
    /// <summary>The full JID.</summary>
    public Jid Jid { get; } = jid;

    public string JidString { get; } = jid.ToString();

    /// <summary>The node that holds the session.</summary>
    public string NodeId { get; } = nodeId;

    public int Priority { get; } = priority;

    public bool IsAvailable { get; } = isAvailable;

    /// <summary>The last broadcast available presence (answers probes without asking the owning node).</summary>
    public XmlElement? LastPresence { get; } = lastPresence;

    /// <summary>The backend's handle for the owning node (its outbound queue); opaque to the core.</summary>
    public object? Route { get; init; }

    Routing.C2sSession? Routing.IBoundResource.Local => null;

    public override string ToString() => JidString + "@" + NodeId;
}

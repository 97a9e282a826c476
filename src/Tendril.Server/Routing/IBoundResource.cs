using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Routing;

/// <summary>
/// A bound resource wherever it is: a session of this node (<see cref="C2sSession"/>) or one another cluster node holds
/// (<see cref="Cluster.RemoteSession"/>). What features read to decide who gets a stanza (RFC 6121 §8.5); the stanza
/// itself goes through <see cref="Delivery"/>.
/// </summary>
public interface IBoundResource
{
    /// <summary>The full JID.</summary>
    Jid Jid { get; }

    /// <summary>The full JID as text (cached).</summary>
    string JidString { get; }

    /// <summary>Sent initial presence and not yet unavailable (RFC 6121 §4.2, §4.5).</summary>
    bool IsAvailable { get; }

    /// <summary>Priority of the last broadcast presence (RFC 6121 §4.7.2.3).</summary>
    int Priority { get; }

    /// <summary>The last broadcast available presence, stamped (answers probes).</summary>
    XmlElement? LastPresence { get; }

    /// <summary>The session when it is bound on this node (per-session feature state lives only there), else null.</summary>
    C2sSession? Local { get; }
}

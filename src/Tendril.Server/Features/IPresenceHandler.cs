using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features;

/// <summary>
/// The presence logic that needs rosters (RFC 6121 §3 subscriptions, §4 broadcast and probes), plugged into the core
/// by one feature with <see cref="FeatureRegistry.SetPresenceHandler"/>. Without one, the core only delivers presence
/// to the user's own resources and to directed-presence recipients.
/// </summary>
public interface IPresenceHandler
{
    /// <summary>
    /// A client's own broadcast presence (no 'to', RFC 6121 §4.2, §4.4, §4.5), available or unavailable, after the core
    /// updated the session and delivered it to the user's own resources. <paramref name="wasAvailable"/> is the
    /// session's availability before (so available presence with it false is initial presence). For unavailable
    /// presence, <paramref name="directed"/> lists the entities that got directed presence from the session: the
    /// handler sends the unavailable presence to them too (once per entity, together with the subscribers).
    /// </summary>
    ValueTask OnBroadcastAsync(C2sSession session, XmlElement presence, bool wasAvailable, IReadOnlyList<Jid> directed);

    /// <summary>
    /// A presence of type subscribe, subscribed, unsubscribe, unsubscribed or probe from a local entity
    /// (<paramref name="from"/> stamped, <paramref name="origin"/> its session when a client sent it) to an account of
    /// this server (<paramref name="to"/>, bare or full).
    /// </summary>
    ValueTask OnSubscriptionAsync(XmlElement presence, string type, Jid from, Jid to, C2sSession? origin);

    /// <summary>
    /// A resource bound on another cluster node disappeared without unavailable presence (its node died): tell the
    /// user's other resources and its subscribers. Only the node that purged the dead node calls it (once).
    /// </summary>
    ValueTask OnResourceGoneAsync(Jid fullJid) => ValueTask.CompletedTask;
}

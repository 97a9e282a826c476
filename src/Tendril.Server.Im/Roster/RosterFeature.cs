using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Features.Roster;

/// <summary>
/// RFC 6121 rosters, subscriptions and presence: the jabber:iq:roster iq (with versioning), the subscription state
/// machine for local contacts with pre-approval, and presence broadcast and probes (as the server's presence handler).
/// Advertises the rosterver and pre-approval stream features (§2.6.1, §3.4.1).
/// </summary>
public sealed class RosterFeature : IServerFeature
{
    public void Register(FeatureRegistry registry)
    {
        var server = registry.Server;
        var locks = new AccountLocks();
        var pusher = new RosterPusher(server);
        server.Cluster.OnAccountEvent(RosterPusher.EventName, pusher.OnClusterPush);
        var subscriptions = new SubscriptionManager(server, locks, pusher);
        var iq = new RosterIq(server, locks, pusher, subscriptions);
        registry.HandleIq("query", Ns.Roster, iq.HandleAsync, IqTarget.Account);
        registry.SetPresenceHandler(new PresenceManager(server, subscriptions));
        registry.AddStreamFeature(NegotiationStep.Binding, _ => new XmlElement("ver", RosterXml.VersioningFeature));
        registry.AddStreamFeature(NegotiationStep.Binding, _ => new XmlElement("sub", RosterXml.PreApprovalFeature));
        registry.SessionClosed += session =>
        {
            pusher.Forget(session);
            return ValueTask.CompletedTask;
        };
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Roster;

/// <summary>
/// Roster pushes (RFC 6121 §2.1.6): to every "interested" resource of the user — one that requested the roster in
/// this session — with the new version when that resource used versioning (§2.6.3).
/// </summary>
internal sealed class RosterPusher(XmppServer server)
{
    // session → whether it requested the roster with versioning
    private readonly ConcurrentDictionary<C2sSession, bool> _interested = new();
    private long _next;

    public void MarkInterested(C2sSession session, bool versioning) => _interested[session] = versioning;

    public bool IsInterested(C2sSession session) => _interested.ContainsKey(session);

    public void Forget(C2sSession session) => _interested.TryRemove(session, out _);

    public void Push(Jid owner, RosterItem item, long version) => Push(owner, RosterXml.Item(item), version);

    public void PushRemoved(Jid owner, string jid, long version) => Push(owner, RosterXml.RemovedItem(jid), version);

    private void Push(Jid owner, XmlElement item, long version)
    {
        PushLocal(owner, item, version);
        if (server.Cluster.IsClustered)
        {
            // The user's sessions on other nodes get the same push from their node (docs/cluster.md, account events).
            var payload = new XmlElement("push", Ns.Roster).SetAttribute("ver", version.ToString(CultureInfo.InvariantCulture));
            payload.Add(item);
            server.Cluster.SendAccountEvent(owner.Bare, EventName, payload);
        }
    }

    public const string EventName = "roster-push";

    /// <summary>Applies a push another node sent for one of its users' sessions here.</summary>
    public ValueTask OnClusterPush(Jid owner, XmlElement payload)
    {
        if (payload.FirstElement() is { } item && long.TryParse(payload.GetAttribute("ver"), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            PushLocal(owner, item, version);
        }
        return ValueTask.CompletedTask;
    }

    private void PushLocal(Jid owner, XmlElement item, long version)
    {
        foreach (var session in server.Delivery.Here(owner))
        {
            if (_interested.TryGetValue(session, out var versioning)) Send(session, item, versioning ? version : null);
        }
    }

    /// <summary>An interim push (RFC 6121 §2.6.3) of one change since the version a resource asked with, to it only.</summary>
    public void PushTo(C2sSession session, RosterChange change) =>
        Send(session, change.Item is { } item ? RosterXml.Item(item) : RosterXml.RemovedItem(change.Jid), change.Version);

    private void Send(C2sSession session, XmlElement item, long? version)
    {
        var id = "push-" + Interlocked.Increment(ref _next).ToString(CultureInfo.InvariantCulture);
        var iq = new XmlElement("iq", Ns.Client).SetAttribute("type", "set").SetAttribute("id", id).SetAttribute("to", session.JidString);
        var query = iq.AddElement("query", Ns.Roster);
        if (version is { } v) query.SetAttribute("ver", RosterXml.Version(v));
        query.Add(item);
        server.Delivery.TryDeliver(session, iq);
    }
}

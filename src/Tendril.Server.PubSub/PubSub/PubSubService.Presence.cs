using System.Collections.Concurrent;
using Tendril.Protocol;
using Tendril.Server.Routing;

namespace Tendril.Server.Features.PubSub;

/// <summary>
/// send_last_published_item = on_sub_and_presence (XEP-0060 §12.?, "last-published"): when a subscriber's session
/// becomes available, it gets the newest item of every node it is subscribed to. The service is part of the server, so
/// it learns about availability from the server's own presence handling rather than from a presence subscription.
/// </summary>
public sealed partial class PubSubService
{
    // Bare JID → ids of nodes where that account (bare or one of its full JIDs) holds a subscription. May hold stale
    // entries after unsubscribing or deletion; the node's own subscriptions are checked before sending.
    private readonly ConcurrentDictionary<Jid, ConcurrentDictionary<string, byte>> _subscribedNodes = new(concurrencyLevel: 1, capacity: 4, BareJidComparer.Instance);

    private void IndexSubscriber(PubSubNode node, Jid jid) =>
        _subscribedNodes.GetOrAdd(jid.Bare, static _ => new ConcurrentDictionary<string, byte>(concurrencyLevel: 1, capacity: 4, StringComparer.Ordinal)).TryAdd(node.Id, 0);

    private void IndexAllSubscribers()
    {
        foreach (var node in _nodes.Values)
        {
            foreach (var s in node.Subscriptions) IndexSubscriber(node, s.Jid);
        }
    }

    /// <summary>Sends the last published items a newly available session is owed (on_sub_and_presence).</summary>
    public async ValueTask OnSessionAvailableAsync(C2sSession session)
    {
        await EnsureLoadedAsync().ConfigureAwait(false);
        if (!_subscribedNodes.TryGetValue(session.Jid, out var nodeIds)) return;
        foreach (var nodeId in nodeIds.Keys)
        {
            if (!_nodes.TryGetValue(nodeId, out var node) || node.Deleted) continue;
            if (node.Config.SendLastPublishedItem != SendLastPublished.OnSubAndPresence || node.LastItem is not { } last) continue;
            var wanted = false;
            foreach (var s in node.Subscriptions)
            {
                if (s.IsActive && s.Deliver && (s.Jid == session.Jid || s.Jid == session.Jid.Bare)) wanted = true;
            }
            if (!wanted) continue;
            Notifier.DeliverTo(session, Notifier.Message(Jid, ItemsEvent(node, [last]), last.Record.PublishedAt, node.Config.MessageType));
        }
    }
}

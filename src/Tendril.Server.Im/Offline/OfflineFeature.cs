using Tendril.Server.Configuration;
using Tendril.Server.Features.Roster;
using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Cluster;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Offline;

/// <summary>
/// Offline messages (RFC 6121 §8.5.2.2, XEP-0160): a normal or chat message for an existing account with no available
/// resource is stored with a delay stamp (XEP-0203) and delivered, oldest first, when a resource of the account next
/// sends initial presence with a non-negative priority. Beyond <c>Tendril:Offline:MaxPerUser</c> the sender gets
/// service-unavailable (XEP-0160 §3: "storage full" must not reveal more than an offline user does); a storage failure
/// gets internal-server-error (wait) — a message is never dropped silently. Headline, groupchat and error messages
/// are not stored.
/// </summary>
public sealed class OfflineFeature : IServerFeature
{
    private const int Batch = 100;
    private XmppServer _server = null!;
    private FeatureRegistry _registry = null!;
    private readonly AccountLocks _deliveryLocks = new(32);

    /// <summary>Advertised on the server (XEP-0160 §5).</summary>
    public const string DiscoFeature = "msgoffline";

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        _registry = registry;
        registry.AddDiscoFeature(DiscoFeature);
        registry.OnUndeliverableMessage(StoreAsync);
        registry.SessionAvailable += DeliverAsync;
        _server.Cluster.OnAccountEvent(ClusterEvent, OnClusterFlushAsync);
    }

    private async ValueTask<bool> StoreAsync(XmlElement message, Jid to)
    {
        var type = message.GetAttribute("type") ?? "normal";
        if (type is not ("normal" or "chat") || to.Local is null) return false;
        var now = _server.Time.GetUtcNow();
        var copy = message.Clone();
        copy.Add(new XmlElement("delay", Ns.Delay)
            .SetAttribute("from", _server.Domain)
            .SetAttribute("stamp", XmppDateTime.Format(now))
            .Add("Offline Storage"));
        OfflineStoreResult result;
        try
        {
            result = await _server.Storage.Offline.StoreAsync(to.Domain, to.Local, StoredStanza.Serialize(copy), now, _server.Options.Offline.MaxPerUser).ConfigureAwait(false);
        }
        catch (StorageException e)
        {
            // Never silent: the sender gets 'wait' (RFC 6120 §8.3.2: retry later), the operator one outage in the log.
            _server.StorageOutage.Refusal("an offline message could not be stored (the sender got internal-server-error)", e);
            _server.Router.BounceError(message, new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait, "The message could not be stored; try again later."));
            return true;
        }
        _server.StorageOutage.Succeeded();
        switch (result)
        {
            case OfflineStoreResult.Stored:
                _registry.RaiseMessageHeld(message, to);
                await FlushIfOnlineAsync(to.Bare).ConfigureAwait(false);
                return true;
            case OfflineStoreResult.QuotaExceeded:
                _server.Router.BounceError(message, StanzaErrorCondition.ServiceUnavailable, "The recipient's offline storage is full.");
                return true;
            default:
                return false; // no such account: the router answers service-unavailable (RFC 6121 §8.5.1)
        }
    }

    /// <summary>
    /// The router found no available resource, but one may have sent initial presence between that lookup and the
    /// commit above: its login-time delivery then read the store before this row existed, and the message would wait
    /// for the next login. A resource available now (here, or on another node as the routing table itself says) gets
    /// the stored messages. Either the resource was available before the commit and is seen here, or its delivery reads
    /// after the commit and finds the row; the per-account gate keeps the two from delivering a message twice.
    /// </summary>
    private async ValueTask FlushIfOnlineAsync(Jid user)
    {
        if (BestAvailable(_server.Delivery.Here(user)) is { } local)
        {
            await FlushAsync(local).ConfigureAwait(false);
            return;
        }
        if (!_server.Cluster.IsClustered) return;
        RemoteSession? best = null;
        foreach (var r in (await _server.Delivery.OfFreshAsync(user).ConfigureAwait(false)).Elsewhere)
        {
            if (r.IsAvailable && r.Priority >= 0 && (best is null || r.Priority > best.Priority)) best = r;
        }
        // Every node holding a session of the account hears it; the one holding this resource delivers.
        if (best is not null) _server.Cluster.SendAccountEvent(user, ClusterEvent, new XmlElement("flush", ClusterNamespace).SetAttribute("jid", best.JidString));
    }

    private const string ClusterEvent = "offline-flush";
    private const string ClusterNamespace = "urn:tendril:cluster:offline";

    private ValueTask OnClusterFlushAsync(Jid account, XmlElement payload)
    {
        if (!Jid.TryParse(payload.GetAttribute("jid"), out var full)) return ValueTask.CompletedTask;
        // The named resource, or (if it just went away) whichever of the account's resources here can take them.
        var session = _server.Delivery.FindHere(full);
        if (session is null || !CanTake(session)) session = BestAvailable(_server.Delivery.Here(account));
        // Not awaited: the node's records are handled one after another, and none may wait on the store.
        if (session is not null) _ = Task.Run(() => FlushAsync(session).AsTask());
        return ValueTask.CompletedTask;
    }

    private static C2sSession? BestAvailable(C2sSession[] sessions)
    {
        C2sSession? best = null;
        foreach (var s in sessions)
        {
            if (CanTake(s) && (best is null || s.Priority > best.Priority)) best = s;
        }
        return best;
    }

    /// <summary>
    /// Available with a non-negative priority and not ending. A session whose stream is closing (hibernating for XEP-0198
    /// resumption, or storing its unacknowledged messages before it ends) would keep the messages in its resumption list
    /// and store them again as it ends: they would go round between the store and that list.
    /// </summary>
    private static bool CanTake(C2sSession s) => s.IsAvailable && s.Priority >= 0 && !s.IsClosed && !s.Stream.IsClosing;

    /// <summary>Delivery outside a login: a storage failure leaves the messages stored for the next one.</summary>
    private async ValueTask FlushAsync(C2sSession session)
    {
        try
        {
            await DeliverAsync(session).ConfigureAwait(false);
        }
        catch (StorageException)
        {
        }
    }

    /// <summary>
    /// Delivers the stored messages to <paramref name="session"/>: read a batch, queue it, delete what was queued. A full
    /// queue or a closed session stops delivery with the rest still stored; a crash between queueing and deleting
    /// delivers a message twice rather than never.
    /// </summary>
    private async ValueTask DeliverAsync(C2sSession session)
    {
        if (session.Priority < 0) return; // XEP-0160 §4: only to a resource that can receive messages for the bare JID
        var user = session.Jid.Bare;
        var gate = await _deliveryLocks.AcquireAsync(user).ConfigureAwait(false);
        try
        {
            while (!session.IsClosed)
            {
                var messages = await _server.Storage.Offline.ListAsync(user.Domain, user.Local!, Batch).ConfigureAwait(false);
                if (messages.Count == 0) return;
                var delivered = new List<long>(messages.Count);
                var stopped = false;
                foreach (var m in messages)
                {
                    var stanza = StoredStanza.Parse(m.Stanza);
                    if (stanza is not null && !session.TryDeliver(stanza))
                    {
                        stopped = true;
                        break;
                    }
                    delivered.Add(m.Id); // an unreadable row is dropped rather than blocking the queue forever
                }
                await _server.Storage.Offline.DeleteAsync(user.Domain, user.Local!, delivered).ConfigureAwait(false);
                if (stopped || messages.Count < Batch) return;
            }
        }
        finally
        {
            gate.Dispose();
        }
    }

}

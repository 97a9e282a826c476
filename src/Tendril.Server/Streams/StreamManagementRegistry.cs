using System.Collections.Concurrent;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Streams;

/// <summary>
/// Resumable XEP-0198 sessions by id, and the hibernating ones among them. The server's heartbeat sweeps the
/// hibernating sessions (no timer per session): past <c>Tendril:StreamManagement:ResumeTimeoutSeconds</c> a session
/// ends for good — its unacknowledged messages go where undeliverable messages go (offline storage) or bounce, never
/// silently lost, and its unavailable presence is broadcast.
/// </summary>
public sealed class StreamManagementRegistry
{
    private readonly XmppServer _server;
    private readonly ConcurrentDictionary<string, StreamManagementState> _resumable = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StreamManagementState> _hibernating = new(StringComparer.Ordinal);

    internal StreamManagementRegistry(XmppServer server) => _server = server;

    /// <summary>Sessions waiting for their client to resume.</summary>
    public int HibernatingCount => _hibernating.Count;

    internal void Register(StreamManagementState sm) => _resumable[sm.ResumeId!] = sm;

    public StreamManagementState? Find(string id) => _resumable.TryGetValue(id, out var sm) ? sm : null;

    internal void Hibernate(StreamManagementState sm, DateTimeOffset now)
    {
        sm.HibernatedAtTicks = now.UtcTicks;
        _hibernating[sm.ResumeId!] = sm;
    }

    /// <summary>Takes a hibernating session out of hibernation; false when it expired (or another stream won).</summary>
    public bool TryWake(StreamManagementState sm)
    {
        if (!_hibernating.TryRemove(new KeyValuePair<string, StreamManagementState>(sm.ResumeId!, sm))) return false;
        sm.HibernatedAtTicks = 0;
        return true;
    }

    /// <summary>A bind of the same full JID replaces a hibernating session: it ends now.</summary>
    internal ValueTask ReplaceAsync(C2sSession replaced)
    {
        foreach (var pair in _hibernating)
        {
            if (pair.Value.Session == replaced && _hibernating.TryRemove(pair)) return FlushAsync(pair.Value, unbind: false);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Heartbeat: ends sessions that hibernated too long.</summary>
    internal void Sweep(DateTimeOffset now)
    {
        if (_hibernating.IsEmpty) return;
        var timeout = TimeSpan.TicksPerSecond * _server.Options.StreamManagement.ResumeTimeoutSeconds;
        foreach (var pair in _hibernating)
        {
            if (now.UtcTicks - pair.Value.HibernatedAtTicks < timeout) continue;
            if (_hibernating.TryRemove(pair)) _ = EndAsync(pair.Value);
        }
    }

    /// <summary>Server shutdown: every hibernating session ends (its messages stored offline).</summary>
    internal async Task EndAllAsync()
    {
        foreach (var pair in _hibernating)
        {
            if (!_hibernating.TryRemove(pair)) continue;
            try
            {
                await EndAsync(pair.Value).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is Tendril.Storage.StorageException or ObjectDisposedException or InvalidOperationException)
            {
                // The store is going away too; nothing more can be done for this session.
            }
        }
    }

    // ---- across cluster nodes --------------------------------------------------------------------------------------

    internal const string ResumeFailedEvent = "sm-resume-failed";
    private const string ClusterNamespace = "urn:tendril:cluster:sm";

    /// <summary>
    /// A client of <paramref name="account"/> asked this node to resume <paramref name="previd"/>, which is not here. A
    /// session's state lives on its node, so the resume fails (XEP-0198 §5: the client binds anew); the nodes holding
    /// the account's sessions are told, and the one holding that session ends it at once instead of at the resume
    /// timeout — its unacknowledged messages stored offline, where the new session's login (or the offline store's own
    /// flush, docs/cluster.md) picks them up, and its unavailable presence broadcast.
    /// </summary>
    public void ResumeFailedHere(Jid account, string previd) =>
        _server.Cluster.SendAccountEvent(account, ResumeFailedEvent, new XmlElement("resume", ClusterNamespace).SetAttribute("previd", previd));

    /// <summary>Another node's <see cref="ResumeFailedHere"/>.</summary>
    internal async ValueTask OnResumeFailedElsewhereAsync(Jid account, XmlElement payload)
    {
        // The id is the client's secret; the account must match as well (an id alone ends nothing of another user).
        if (payload.GetAttribute("previd") is not { } id || Find(id) is not { } sm || !BareJidComparer.Instance.Equals(sm.Session.Jid, account)) return;
        if (_hibernating.TryRemove(new KeyValuePair<string, StreamManagementState>(id, sm)))
        {
            await EndAsync(sm).ConfigureAwait(false);
            return;
        }
        // Not noticed dead here yet (the client saw the connection die first): it ends now, without hibernating.
        if (!sm.Session.IsClosed) sm.Session.Stream.EndAbandoned();
    }

    /// <summary>Ends a session for good: unbinds it, broadcasts unavailable presence, and flushes what it was not sent.</summary>
    public ValueTask EndAsync(StreamManagementState sm) => FlushAsync(sm, unbind: true);

    /// <summary>
    /// Before a session with SM is unbound for good: its unacknowledged stanzas are treated as undelivered (offline
    /// storage) while it is still bound. Messages routed to it meanwhile join the end of its list and are flushed in
    /// turn, so the store keeps the order the messages were sent to the client in, and nothing addressed to the
    /// account after the unbind can be stored ahead of them.
    /// </summary>
    internal async ValueTask FlushBeforeEndAsync(StreamManagementState sm)
    {
        while (sm.TakeAll() is { Count: > 0 } items) await Undeliverable(sm, items).ConfigureAwait(false);
    }

    /// <summary>After the unbind: the session is no longer resumable; what reached it in the last instant is flushed and the list sealed.</summary>
    internal ValueTask ForgetAsync(StreamManagementState sm)
    {
        if (sm.ResumeId is { } id) _resumable.TryRemove(new KeyValuePair<string, StreamManagementState>(id, sm));
        return Undeliverable(sm, sm.TakeAllAndSeal());
    }

    private async ValueTask FlushAsync(StreamManagementState sm, bool unbind)
    {
        var session = sm.Session;
        if (sm.ResumeId is { } id) _resumable.TryRemove(new KeyValuePair<string, StreamManagementState>(id, sm));
        // Store before unbinding, so a login that sees the session gone also finds its messages offline, in order;
        // then once more for anything routed to the session in between.
        await FlushBeforeEndAsync(sm).ConfigureAwait(false);
        if (unbind)
        {
            session.IsClosed = true;
            if (_server.Sessions.Unbind(session))
            {
                if (_server.Cluster.IsClustered) await _server.Cluster.SessionUnboundAsync(session).ConfigureAwait(false);
                await PresenceBroadcaster.BroadcastUnavailableOnCloseAsync(_server, session).ConfigureAwait(false);
            }
        }
        await Undeliverable(sm, sm.TakeAllAndSeal()).ConfigureAwait(false);
        if (unbind) await _server.Features.RaiseSessionClosedAsync(session).ConfigureAwait(false);
    }

    /// <summary>
    /// XEP-0198 §5/§7: stanzas the client did not acknowledge are treated as undelivered. Messages go through the
    /// undeliverable-message handlers (offline storage) or bounce; iq requests bounce; presence and broadcast
    /// (serialized) notifications are state, superseded by the session's end, and are dropped.
    /// </summary>
    private async ValueTask Undeliverable(StreamManagementState sm, List<Outbound> items)
    {
        var to = sm.Session.Jid.Bare;
        foreach (var item in items)
        {
            if (item.Payload is not XmlElement stanza) continue;
            var type = stanza.GetAttribute("type");
            if (stanza.Name == "message")
            {
                if (type is "error" or "groupchat") continue;
                var handled = false;
                foreach (var handler in _server.Features.UndeliverableMessageHandlers)
                {
                    if (await handler(stanza, to).ConfigureAwait(false)) { handled = true; break; }
                }
                if (!handled && type != "headline") _server.Router.BounceError(stanza, StanzaErrorCondition.RecipientUnavailable);
            }
            else if (stanza.Name == "iq" && type is "get" or "set" && item.Kind == OutboundKind.Routed)
            {
                _server.Router.BounceError(stanza, StanzaErrorCondition.ServiceUnavailable);
            }
        }
    }
}

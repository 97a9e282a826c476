using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Cluster;
using Tendril.Server.Logging;
using Tendril.Xml;

namespace Tendril.Server.Routing;

/// <summary>
/// The one place that knows where a recipient is and how a stanza reaches it: sessions of this node (the
/// <see cref="SessionTable"/>), sessions on other cluster nodes (<see cref="IClusterBackend"/>), services the server hosts
/// under other domains (pubsub, upload, components) and remote domains (an <see cref="IRemoteDomainRouter"/>, when a
/// feature provides one). Features ask it "who are this account's resources" and hand it the stanza; none of them looks
/// at the session table or the cluster backend itself. The decisions of RFC 6121 §8.5 (which resources get what) stay in
/// <see cref="Router"/>, which is built on this.
/// </summary>
/// <remarks>
/// On a single node every call is a lock-free table read plus a queue write: <see cref="Of"/> returns a struct over the
/// table's copy-on-write array (no allocation), and the cluster is asked nothing (<see cref="IClusterBackend.IsClustered"/>).
/// </remarks>
public sealed class Delivery
{
    private readonly XmppServer _server;
    private readonly SessionTable _sessions;
    private readonly IClusterBackend _cluster;
    private readonly ILogger _logger;

    internal Delivery(XmppServer server, SessionTable sessions, IClusterBackend cluster, ILogger logger)
    {
        _server = server;
        _sessions = sessions;
        _cluster = cluster;
        _logger = logger;
    }

    // ---- where an account's resources are ------------------------------------------------------------------------

    /// <summary>Every resource of <paramref name="account"/>'s account (resource ignored), on this node and on the others; a snapshot.</summary>
    public AccountResources Of(Jid account) => new(_sessions.FindAll(account), _cluster.IsClustered ? _cluster.FindAll(account) : []);

    /// <summary>The resource bound to exactly this full JID, on whichever node, or null.</summary>
    public IBoundResource? Find(Jid fullJid)
    {
        if (_sessions.Find(fullJid) is { } local) return local;
        return _cluster.IsClustered ? _cluster.Find(fullJid) : null;
    }

    /// <summary>
    /// This node's sessions of the account: for state a feature keeps per session (carbons enabled, entity capabilities),
    /// which exists only where the session is. Sessions elsewhere are reached through a cluster account event.
    /// </summary>
    public C2sSession[] Here(Jid account) => _sessions.FindAll(account);

    /// <summary>This node's session bound to exactly this full JID, or null.</summary>
    public C2sSession? FindHere(Jid fullJid) => _sessions.Find(fullJid);

    /// <summary>True while the account has a session on this node (per-node caches are kept only then).</summary>
    public bool IsBoundHere(Jid account) => _sessions.FindAll(account).Length != 0;

    /// <summary>
    /// Like <see cref="Of"/>, but what other nodes hold is read from the shared routing table itself (one network round
    /// trip when clustered). Not for routing: for rare decisions that must not act on a replica a moment behind.
    /// </summary>
    public async ValueTask<AccountResources> OfFreshAsync(Jid account)
    {
        var remote = _cluster.IsClustered ? await _cluster.RefreshAsync(account).ConfigureAwait(false) : [];
        return new AccountResources(_sessions.FindAll(account), remote);
    }

    // ---- handing a stanza over -----------------------------------------------------------------------------------

    /// <summary>Queues to a session of this node; on a full queue logs and returns false (the caller decides whether to bounce).</summary>
    public bool TryDeliver(C2sSession session, XmlElement stanza)
    {
        if (session.TryDeliver(stanza)) return true;
        if (!session.IsClosed) ServerLog.OutboundQueueFull(_logger, session.JidString, stanza.Name);
        return false;
    }

    /// <summary>
    /// Fan-out without copies: the stanza was serialized once; the session's connection writes the same bytes with only
    /// its own 'to' inserted. False when the session's queue is full (a slow subscriber).
    /// </summary>
    public bool TryDeliver(C2sSession session, SerializedStanza stanza)
    {
        if (session.Stream.TryEnqueueSerialized(stanza, session.JidString)) return true;
        if (!session.IsClosed) ServerLog.OutboundQueueFull(_logger, session.JidString, "serialized");
        return false;
    }

    /// <summary>Queues to a resource wherever it is bound, 'to' unchanged. False when its queue (or its node's) is full.</summary>
    public bool TryDeliver(IBoundResource resource, XmlElement stanza) =>
        resource.Local is { } local ? TryDeliver(local, stanza) : _cluster.TryDeliver((RemoteSession)resource, stanza);

    /// <summary>Queues a serialized stanza to a resource wherever it is bound, addressed to its full JID.</summary>
    public bool TryDeliver(IBoundResource resource, SerializedStanza stanza) =>
        resource.Local is { } local ? TryDeliver(local, stanza) : _cluster.TryDeliver((RemoteSession)resource, stanza.Element, addressToTarget: true);

    /// <summary>
    /// To every available resource of the account, 'to' unchanged (presence, subscription stanzas, RFC 6121 §8.5.2.1.2),
    /// except <paramref name="except"/>. Returns how many took it.
    /// </summary>
    public int ToAvailable(Jid account, XmlElement stanza, IBoundResource? except = null)
    {
        var n = 0;
        foreach (var s in _sessions.FindAll(account))
        {
            if (s.IsAvailable && s != except && TryDeliver(s, stanza)) n++;
        }
        if (!_cluster.IsClustered) return n;
        foreach (var r in _cluster.FindAll(account))
        {
            if (r.IsAvailable && r != except && _cluster.TryDeliver(r, stanza)) n++;
        }
        return n;
    }

    /// <summary>
    /// A serialized stanza to every available resource of the account, each addressed to its full JID; with
    /// <paramref name="nonNegativeOnly"/> only those of priority ≥ 0 (headlines, RFC 6121 §8.5.2.1.1). Returns how many took it.
    /// </summary>
    public int ToAvailable(Jid account, SerializedStanza stanza, bool nonNegativeOnly = false)
    {
        var n = 0;
        foreach (var s in _sessions.FindAll(account))
        {
            if (s.IsAvailable && (!nonNegativeOnly || s.Priority >= 0) && TryDeliver(s, stanza)) n++;
        }
        if (!_cluster.IsClustered) return n;
        foreach (var r in _cluster.FindAll(account))
        {
            // Serialized once more on the receiving node, for its sessions.
            if (r.IsAvailable && (!nonNegativeOnly || r.Priority >= 0) && _cluster.TryDeliver(r, stanza.Element, addressToTarget: true)) n++;
        }
        return n;
    }

    /// <summary>
    /// A stanza the server itself generated (iq results, errors, notifications) to an entity: a full JID's resource or
    /// every resource of a bare JID of this domain, a hosted service, or a remote domain. Dropped when nobody is there.
    /// </summary>
    public void FromServer(XmlElement stanza, Jid to)
    {
        if (to.Domain != _server.Domain)
        {
            _ = ToOtherDomainAsync(stanza, _server.DomainJid, to, null);
            return;
        }
        if (to.Local is null) return;
        if (to.Resource is not null)
        {
            if (Find(to) is { } resource) TryDeliver(resource, stanza);
            return;
        }
        foreach (var s in _sessions.FindAll(to)) TryDeliver(s, stanza);
        if (!_cluster.IsClustered) return;
        foreach (var r in _cluster.FindAll(to)) _cluster.TryDeliver(r, stanza);
    }

    // ---- other domains -------------------------------------------------------------------------------------------

    /// <summary>True when stanzas to <paramref name="domain"/> (not this server's) go somewhere: a hosted service or a remote-domain router.</summary>
    public bool Reaches(string domain) => _server.Features.TryGetHostedDomain(domain, out _) || _server.Features.RemoteDomainRouter is not null;

    /// <summary>
    /// To an entity of a domain other than the server's own: the service hosting it, else the remote-domain router
    /// (federation), else bounced with remote-server-not-found (RFC 6120 §8.3.3.15; errors and iq results never bounce).
    /// </summary>
    public ValueTask ToOtherDomainAsync(XmlElement stanza, Jid from, Jid to, C2sSession? origin)
    {
        if (_server.Features.TryGetHostedDomain(to.Domain, out var hosted)) return hosted(stanza, from, to, origin);
        if (_server.Features.RemoteDomainRouter is { } remote) return remote.RouteAsync(stanza, from, to, origin);
        _server.Router.BounceError(stanza, StanzaErrorCondition.RemoteServerNotFound);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// The resources of one account at one moment: this node's sessions, then those other nodes hold. Enumerates as
/// <see cref="IBoundResource"/> without allocating.
/// </summary>
public readonly struct AccountResources
{
    internal AccountResources(C2sSession[] here, RemoteSession[] elsewhere)
    {
        Here = here;
        Elsewhere = elsewhere;
    }

    /// <summary>This node's sessions (per-session feature state lives only there).</summary>
    public C2sSession[] Here { get; }

    /// <summary>Sessions other cluster nodes hold (empty on a single node).</summary>
    public RemoteSession[] Elsewhere { get; }

    public int Count => Here.Length + Elsewhere.Length;

    public bool IsEmpty => Here.Length == 0 && Elsewhere.Length == 0;

    /// <summary>True when some resource is available (RFC 6121 §4.2).</summary>
    public bool AnyAvailable
    {
        get
        {
            foreach (var s in Here)
            {
                if (s.IsAvailable) return true;
            }
            foreach (var r in Elsewhere)
            {
                if (r.IsAvailable) return true;
            }
            return false;
        }
    }

    public Enumerator GetEnumerator() => new(Here, Elsewhere);

    public struct Enumerator(C2sSession[] here, RemoteSession[] elsewhere)
    {
        private int _index = -1;

        public readonly IBoundResource Current => _index < here.Length ? here[_index] : elsewhere[_index - here.Length];

        public bool MoveNext() => ++_index < here.Length + elsewhere.Length;
    }
}

using Tendril.Server.Streams;
using Tendril.Xml;

namespace Tendril.Server.Features;

/// <summary>An identity for disco#info (XEP-0030 §3.1).</summary>
public readonly record struct DiscoIdentity(string Category, string Type, string? Name = null);

/// <summary>
/// What every feature registered: iq handlers keyed by payload (name, namespace), the disco features and
/// identities they advertise, stream features offered to bound sessions, and lifecycle hooks.
/// Built once at start; read-only (and lock-free) afterwards.
/// </summary>
public delegate ValueTask<bool> UndeliverableMessageHandler(XmlElement message, Tendril.Protocol.Jid to);

/// <summary>An item of the server's disco#items (XEP-0030 §4), e.g. a hosted service.</summary>
public readonly record struct DiscoItem(string Jid, string? Name = null, string? Node = null);

/// <summary>
/// Handles every stanza addressed to a domain the server hosts besides its own (a service such as
/// <c>pubsub.example.org</c>). The stanza's 'from' is stamped; <paramref name="origin"/> is the sender's session when local.
/// </summary>
public delegate ValueTask HostedDomainHandler(XmlElement stanza, Tendril.Protocol.Jid from, Tendril.Protocol.Jid to, Routing.C2sSession? origin);

public sealed class FeatureRegistry
{
    private readonly Dictionary<(string Name, string Ns), (IqHandler Handler, IqTarget Target)> _iqHandlers = [];
    private readonly SortedSet<string> _serverFeatures = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _accountFeatures = new(StringComparer.Ordinal);
    private readonly List<DiscoIdentity> _serverIdentities = [];
    private readonly List<DiscoIdentity> _accountIdentities = [];
    private readonly List<Func<C2sStream, XmlElement?>> _streamFeatures = [];
    private readonly List<UndeliverableMessageHandler> _undeliverable = [];
    private readonly Dictionary<string, HostedDomainHandler> _hostedDomains = new(StringComparer.Ordinal);
    private readonly List<DiscoItem> _serverItems = [];
    private bool _frozen;
    private readonly XmppServer? _server;
    private IPresenceHandler? _presenceHandler;

    public FeatureRegistry(string domain) => Domain = domain;

    internal FeatureRegistry(XmppServer server)
        : this(server.Domain) => _server = server;

    /// <summary>The server the features belong to (for features that route, deliver or read options and storage).</summary>
    public XmppServer Server => _server ?? throw new InvalidOperationException("This registry belongs to no server.");

    /// <summary>Plugs in the presence logic of RFC 6121 (rosters, subscriptions, probes); at most one feature does.</summary>
    public void SetPresenceHandler(IPresenceHandler handler)
    {
        ThrowIfFrozen();
        ArgumentNullException.ThrowIfNull(handler);
        if (_presenceHandler is not null) throw new InvalidOperationException("Two features handle presence.");
        _presenceHandler = handler;
    }

    internal IPresenceHandler? PresenceHandler => _presenceHandler;

    /// <summary>The server's own (normalized) domain.</summary>
    public string Domain { get; }

    /// <summary>
    /// Hosts another domain (a service JID such as <c>pubsub.example.org</c>): every stanza to it, bare or full, goes to
    /// <paramref name="handler"/>. The domain must be normalized (lower case).
    /// </summary>
    public void AddHostedDomain(string domain, HostedDomainHandler handler)
    {
        ThrowIfFrozen();
        if (domain == Domain || !_hostedDomains.TryAdd(domain, handler))
        {
            throw new InvalidOperationException($"The domain '{domain}' is hosted twice.");
        }
    }

    internal bool TryGetHostedDomain(string domain, out HostedDomainHandler handler) => _hostedDomains.TryGetValue(domain, out handler!);

    public IReadOnlyCollection<string> HostedDomains => _hostedDomains.Keys;

    /// <summary>Lists an item in the server's disco#items.</summary>
    public void AddDiscoItem(DiscoItem item)
    {
        ThrowIfFrozen();
        _serverItems.Add(item);
    }

    public IReadOnlyList<DiscoItem> DiscoItems => _serverItems;

    /// <summary>Handles iq get/set whose payload is &lt;name xmlns='ns'/&gt; addressed to the given targets.</summary>
    public void HandleIq(string name, string ns, IqHandler handler, IqTarget target = IqTarget.Server)
    {
        ThrowIfFrozen();
        if (!_iqHandlers.TryAdd((name, ns), (handler, target)))
        {
            throw new InvalidOperationException($"Two features handle iq <{name} xmlns='{ns}'/>.");
        }
    }

    /// <summary>Advertises a disco#info feature var on the given targets.</summary>
    public void AddDiscoFeature(string var, IqTarget target = IqTarget.Server)
    {
        ThrowIfFrozen();
        if (target.HasFlag(IqTarget.Server)) _serverFeatures.Add(var);
        if (target.HasFlag(IqTarget.Account)) _accountFeatures.Add(var);
    }

    public void AddDiscoIdentity(DiscoIdentity identity, IqTarget target = IqTarget.Server)
    {
        ThrowIfFrozen();
        if (target.HasFlag(IqTarget.Server)) _serverIdentities.Add(identity);
        if (target.HasFlag(IqTarget.Account)) _accountIdentities.Add(identity);
    }

    /// <summary>Adds a stream feature offered after authentication (with bind); the callback may return null to omit it.</summary>
    public void AddStreamFeature(Func<C2sStream, XmlElement?> feature)
    {
        ThrowIfFrozen();
        _streamFeatures.Add(feature);
    }

    /// <summary>
    /// Offers a message for a local account that has no available resource (RFC 6121 §8.5.2.2), e.g. to store it
    /// offline. The first handler returning true takes it; if none does, the sender gets service-unavailable.
    /// </summary>
    public void OnUndeliverableMessage(UndeliverableMessageHandler handler)
    {
        ThrowIfFrozen();
        _undeliverable.Add(handler);
    }

    internal IReadOnlyList<UndeliverableMessageHandler> UndeliverableMessageHandlers => _undeliverable;

    /// <summary>Raised after a session has bound a resource.</summary>
    public event Func<Routing.C2sSession, ValueTask>? SessionBound;

    /// <summary>
    /// Raised when a bound session sends its initial available presence (RFC 6121 §4.2), after the broadcast and the
    /// presence handler's probes: the moment to deliver what waited for the user (offline messages, last pubsub items).
    /// </summary>
    public event Func<Routing.C2sSession, ValueTask>? SessionAvailable;

    /// <summary>Raised after a bound session has ended (its unavailable presence already broadcast).</summary>
    public event Func<Routing.C2sSession, ValueTask>? SessionClosed;

    internal bool TryGetIqHandler(string name, string ns, IqTarget target, out IqHandler handler)
    {
        if (_iqHandlers.TryGetValue((name, ns), out var entry) && (entry.Target & target) != 0)
        {
            handler = entry.Handler;
            return true;
        }
        handler = null!;
        return false;
    }

    public IReadOnlyCollection<string> DiscoFeatures(IqTarget target) => target == IqTarget.Account ? _accountFeatures : _serverFeatures;

    public IReadOnlyList<DiscoIdentity> DiscoIdentities(IqTarget target) => target == IqTarget.Account ? _accountIdentities : _serverIdentities;

    internal IReadOnlyList<Func<C2sStream, XmlElement?>> StreamFeatures => _streamFeatures;

    internal async ValueTask RaiseSessionBoundAsync(Routing.C2sSession session)
    {
        var handlers = SessionBound;
        if (handlers is null) return;
        foreach (var h in handlers.GetInvocationList())
        {
            await ((Func<Routing.C2sSession, ValueTask>)h)(session).ConfigureAwait(false);
        }
    }

    internal async ValueTask RaiseSessionAvailableAsync(Routing.C2sSession session)
    {
        var handlers = SessionAvailable;
        if (handlers is null) return;
        foreach (var h in handlers.GetInvocationList())
        {
            await ((Func<Routing.C2sSession, ValueTask>)h)(session).ConfigureAwait(false);
        }
    }

    internal async ValueTask RaiseSessionClosedAsync(Routing.C2sSession session)
    {
        var handlers = SessionClosed;
        if (handlers is null) return;
        foreach (var h in handlers.GetInvocationList())
        {
            await ((Func<Routing.C2sSession, ValueTask>)h)(session).ConfigureAwait(false);
        }
    }

    internal void Freeze() => _frozen = true;

    private void ThrowIfFrozen()
    {
        if (_frozen) throw new InvalidOperationException("Features register only at start.");
    }
}

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

/// <summary>What a stanza filter decided: let the stanza go on, or stop it (the filter answered or dropped it itself).</summary>
public enum StanzaFilterResult
{
    Continue,
    Drop,
}

/// <summary>
/// Sees every stanza a local client sends ('from' stamped; <paramref name="to"/> null when absent) before it is routed.
/// The stanza is not shared yet: a filter may modify it. Complete synchronously when possible (no allocation).
/// </summary>
public delegate ValueTask<StanzaFilterResult> OutboundStanzaFilter(Routing.C2sSession origin, XmlElement stanza, Tendril.Protocol.Jid? to);

/// <summary>
/// Sees every stanza about to be handed to a local account (<paramref name="to"/>: its bare or full JID) by the router,
/// or by a feature that delivers on its own (presence broadcast and probe answers), from <paramref name="from"/>.
/// </summary>
public delegate ValueTask<StanzaFilterResult> InboundStanzaFilter(XmlElement stanza, Tendril.Protocol.Jid from, Tendril.Protocol.Jid to);

/// <summary>The stanza kinds a filter subscribes to; it is not called for the others.</summary>
[Flags]
public enum StanzaKinds
{
    Message = 1,
    Presence = 2,
    Iq = 4,
    All = Message | Presence | Iq,
}

/// <summary>
/// Where a stanza filter runs among the others (lower first; equal stages keep registration order). The order is part
/// of the protocol: a blocked stanza is never archived or copied, and a carbon carries the archive's stanza id.
/// </summary>
public static class StanzaStage
{
    /// <summary>Adds to what the sender sent before anything else reads it (XEP-0153 photo hash in presence).</summary>
    public const int Stamp = 100;

    /// <summary>Decides whether the stanza may pass at all (XEP-0191 blocking).</summary>
    public const int Access = 200;

    /// <summary>Keeps the stanza and stamps its id (XEP-0313 archive, XEP-0359 stanza-id).</summary>
    public const int Archive = 300;

    /// <summary>Copies the stanza to other resources (XEP-0280 carbons), with the archive's id.</summary>
    public const int Copy = 400;

    /// <summary>Only looks: remembers what passed (XEP-0012 status, XEP-0115 capabilities).</summary>
    public const int Observe = 500;
}

/// <summary>Handles a top-level element of a client stream (a nonza, or a pre-authentication iq) on the stream's read loop.</summary>
public delegate ValueTask StreamElementHandler(C2sStream stream, XmlElement element);

/// <summary>When a stream feature is offered (RFC 6120 §4.3.2).</summary>
public enum NegotiationStep
{
    /// <summary>With the SASL mechanisms, before authentication (e.g. XEP-0077 &lt;register/&gt;).</summary>
    Authentication,

    /// <summary>With resource binding, after authentication (e.g. XEP-0198 &lt;sm/&gt;, XEP-0352 &lt;csi/&gt;).</summary>
    Binding,
}

/// <summary>The phases of a client stream in which a stream-element handler is called.</summary>
[Flags]
public enum StreamPhase
{
    /// <summary>Authenticated, no resource bound yet (XEP-0198 &lt;resume/&gt;).</summary>
    Authenticated = 1,

    /// <summary>A resource is bound.</summary>
    Bound = 2,
}

public sealed class FeatureRegistry
{
    // Per stanza kind (message, presence, iq), sorted by stage when frozen: a presence-only filter costs a message nothing.
    private readonly List<(int Stage, int Order, OutboundStanzaFilter Filter, StanzaKinds Kinds)> _outboundList = [];
    private readonly List<(int Stage, int Order, InboundStanzaFilter Filter, StanzaKinds Kinds)> _inboundList = [];
    private OutboundStanzaFilter[][] _outboundFilters = [[], [], []];
    private InboundStanzaFilter[][] _inboundFilters = [[], [], []];
    private readonly Dictionary<(string Name, string Ns), (IqHandler Handler, IqTarget Target)> _iqHandlers = [];
    private readonly SortedSet<string> _serverFeatures = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _accountFeatures = new(StringComparer.Ordinal);
    private readonly List<DiscoIdentity> _serverIdentities = [];
    private readonly List<DiscoIdentity> _accountIdentities = [];
    private readonly List<Func<C2sStream, XmlElement?>> _streamFeatures = [];
    private readonly List<Func<C2sStream, XmlElement?>> _authFeatures = [];
    private readonly Dictionary<string, (StreamElementHandler Handler, StreamPhase Phases)> _streamElements = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Name, string Ns), StreamElementHandler> _preAuthIqs = [];
    private readonly List<UndeliverableMessageHandler> _undeliverable = [];
    private readonly Dictionary<string, HostedDomainHandler> _hostedDomains = new(StringComparer.Ordinal);
    private readonly List<DiscoItem> _serverItems = [];
    private readonly List<XmlElement> _serverInfoForms = [];
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

    private IRemoteDomainRouter? _remoteDomainRouter;

    /// <summary>Plugs in delivery to remote domains (federation); at most one feature does.</summary>
    public void SetRemoteDomainRouter(IRemoteDomainRouter router)
    {
        ThrowIfFrozen();
        ArgumentNullException.ThrowIfNull(router);
        if (_remoteDomainRouter is not null) throw new InvalidOperationException("Two features route to remote domains.");
        _remoteDomainRouter = router;
    }

    internal IRemoteDomainRouter? RemoteDomainRouter => _remoteDomainRouter;

    private IAccountDiscoProvider? _accountDisco;

    /// <summary>Plugs in discovery of an account's nodes and items (PEP); at most one feature does.</summary>
    public void SetAccountDiscoProvider(IAccountDiscoProvider provider)
    {
        ThrowIfFrozen();
        ArgumentNullException.ThrowIfNull(provider);
        if (_accountDisco is not null) throw new InvalidOperationException("Two features provide account discovery.");
        _accountDisco = provider;
    }

    /// <summary>The provider of account nodes and items, if a feature set one.</summary>
    public IAccountDiscoProvider? AccountDiscoProvider => _accountDisco;

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

    /// <summary>Adds an extended-information data form (XEP-0128) to the server's disco#info, e.g. contact addresses.</summary>
    public void AddDiscoInfoForm(XmlElement form)
    {
        ThrowIfFrozen();
        ArgumentNullException.ThrowIfNull(form);
        _serverInfoForms.Add(form);
    }

    public IReadOnlyList<XmlElement> DiscoInfoForms => _serverInfoForms;

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

    /// <summary>
    /// Adds a stream feature offered at <paramref name="step"/> of negotiation (RFC 6120 §4.3.2): with the SASL
    /// mechanisms, or with resource binding. The callback may return null to omit it on a stream.
    /// </summary>
    public void AddStreamFeature(NegotiationStep step, Func<C2sStream, XmlElement?> feature)
    {
        ThrowIfFrozen();
        ArgumentNullException.ThrowIfNull(feature);
        (step == NegotiationStep.Authentication ? _authFeatures : _streamFeatures).Add(feature);
    }

    /// <summary>
    /// Handles top-level elements of namespace <paramref name="ns"/> that are not stanzas (nonzas such as XEP-0198 acks
    /// or XEP-0352 client state) in the given <paramref name="phases"/> of a client stream. One handler per namespace.
    /// </summary>
    public void HandleStreamElement(string ns, StreamPhase phases, StreamElementHandler handler)
    {
        ThrowIfFrozen();
        ArgumentNullException.ThrowIfNull(handler);
        if (ns == Tendril.Protocol.Ns.Client || !_streamElements.TryAdd(ns, (handler, phases)))
        {
            throw new InvalidOperationException($"Two features handle stream elements of '{ns}'.");
        }
    }

    /// <summary>
    /// Handles an iq get/set with payload &lt;<paramref name="name"/> xmlns='<paramref name="ns"/>'/&gt; sent before
    /// authentication (XEP-0077 account creation). The core accepts it only on an encrypted stream.
    /// </summary>
    public void HandlePreAuthIq(string name, string ns, StreamElementHandler handler)
    {
        ThrowIfFrozen();
        ArgumentNullException.ThrowIfNull(handler);
        if (!_preAuthIqs.TryAdd((name, ns), handler)) throw new InvalidOperationException($"Two features handle <{name} xmlns='{ns}'/> before authentication.");
    }

    internal bool TryGetStreamElementHandler(string ns, StreamPhase phase, out StreamElementHandler handler)
    {
        if (_streamElements.TryGetValue(ns, out var entry) && (entry.Phases & phase) != 0)
        {
            handler = entry.Handler;
            return true;
        }
        handler = null!;
        return false;
    }

    internal bool TryGetPreAuthIqHandler(XmlElement iq, out StreamElementHandler handler)
    {
        handler = null!;
        return iq.Name == "iq" && iq.GetAttribute("type") is "get" or "set" && iq.ElementCount == 1
            && iq.FirstElement() is { } payload && _preAuthIqs.TryGetValue((payload.Name, payload.Namespace), out handler!);
    }

    internal IReadOnlyList<Func<C2sStream, XmlElement?>> AuthenticationFeatures => _authFeatures;

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

    private Func<XmlElement, ValueTask>[] _messageRouted = [];

    /// <summary>
    /// Called when the router is done with a message it was given (from a local client, a feature or another domain):
    /// delivered, handed to another node or domain, stored offline, bounced, or dropped by a filter. Awaited on the
    /// routing path (the sender's stream), once per message, always (also when routing threw). With
    /// <see cref="StanzaBounced"/>, a feature learns whether its stanza filter's decision was followed by a bounce
    /// (the archive keeps only what was not bounced).
    /// </summary>
    public void OnMessageRouted(Func<XmlElement, ValueTask> handler)
    {
        ThrowIfFrozen();
        ArgumentNullException.ThrowIfNull(handler);
        _messageRouted = [.. _messageRouted, handler];
    }

    internal bool HasMessageRoutedHandlers => _messageRouted.Length != 0;

    internal async ValueTask RaiseMessageRoutedAsync(XmlElement message)
    {
        foreach (var handler in _messageRouted) await handler(message).ConfigureAwait(false);
    }

    /// <summary>
    /// Raised synchronously (handlers must not block) when the router answers a stanza with an error to its sender
    /// (<see cref="Routing.Router.BounceError(XmlElement, Tendril.Protocol.Errors.StanzaError)"/>): the stanza given is
    /// the original one, the same instance the filters saw.
    /// </summary>
    public event Action<XmlElement>? StanzaBounced;

    internal void RaiseStanzaBounced(XmlElement stanza) => StanzaBounced?.Invoke(stanza);

    /// <summary>
    /// Adds a filter for the <paramref name="kinds"/> of stanzas local clients send, run at <paramref name="stage"/>
    /// (<see cref="StanzaStage"/>); filters run in stage order until one drops.
    /// </summary>
    public void AddOutboundFilter(StanzaKinds kinds, int stage, OutboundStanzaFilter filter)
    {
        ThrowIfFrozen();
        ArgumentNullException.ThrowIfNull(filter);
        _outboundList.Add((stage, _outboundList.Count, filter, kinds));
    }

    /// <summary>
    /// Adds a filter for the <paramref name="kinds"/> of stanzas to local accounts, run at <paramref name="stage"/>
    /// (<see cref="StanzaStage"/>); filters run in stage order until one drops.
    /// </summary>
    public void AddInboundFilter(StanzaKinds kinds, int stage, InboundStanzaFilter filter)
    {
        ThrowIfFrozen();
        ArgumentNullException.ThrowIfNull(filter);
        _inboundList.Add((stage, _inboundList.Count, filter, kinds));
    }

    /// <summary>0 for message, 1 for presence, 2 for iq (the stream let nothing else through).</summary>
    private static int KindIndex(XmlElement stanza) => stanza.Name switch
    {
        "message" => 0,
        "presence" => 1,
        _ => 2,
    };

    private static T[][] ByKind<T>(List<(int Stage, int Order, T Filter, StanzaKinds Kinds)> list)
    {
        var sorted = list.OrderBy(f => f.Stage).ThenBy(f => f.Order).ToList();
        T[] Of(StanzaKinds kind) => [.. sorted.Where(f => (f.Kinds & kind) != 0).Select(f => f.Filter)];
        return [Of(StanzaKinds.Message), Of(StanzaKinds.Presence), Of(StanzaKinds.Iq)];
    }

    /// <summary>The outbound filters for this stanza's kind, in stage order (empty: the router skips filtering).</summary>
    internal OutboundStanzaFilter[] OutboundFiltersFor(XmlElement stanza) => _outboundFilters[KindIndex(stanza)];

    internal async ValueTask<StanzaFilterResult> FilterOutboundAsync(OutboundStanzaFilter[] filters, Routing.C2sSession origin, XmlElement stanza, Tendril.Protocol.Jid? to)
    {
        try
        {
            foreach (var filter in filters)
            {
                if (await filter(origin, stanza, to).ConfigureAwait(false) == StanzaFilterResult.Drop) return StanzaFilterResult.Drop;
            }
        }
        catch (Tendril.Storage.StorageException ex)
        {
            return FilterFailed(stanza, ex);
        }
        return StanzaFilterResult.Continue;
    }

    /// <summary>
    /// Runs the inbound filters for a stanza from <paramref name="from"/> to a local account; features that deliver to
    /// sessions directly (bypassing the router) call it once per recipient account. Free when no filter is registered.
    /// </summary>
    public ValueTask<StanzaFilterResult> FilterInboundAsync(XmlElement stanza, Tendril.Protocol.Jid from, Tendril.Protocol.Jid to)
    {
        var filters = _inboundFilters[KindIndex(stanza)];
        return filters.Length == 0 ? new(StanzaFilterResult.Continue) : RunInboundAsync(filters, stanza, from, to);
    }

    private async ValueTask<StanzaFilterResult> RunInboundAsync(InboundStanzaFilter[] filters, XmlElement stanza, Tendril.Protocol.Jid from, Tendril.Protocol.Jid to)
    {
        try
        {
            foreach (var filter in filters)
            {
                if (await filter(stanza, from, to).ConfigureAwait(false) == StanzaFilterResult.Drop) return StanzaFilterResult.Drop;
            }
        }
        catch (Tendril.Storage.StorageException ex)
        {
            return FilterFailed(stanza, ex);
        }
        return StanzaFilterResult.Continue;
    }

    /// <summary>
    /// A filter could not read what it decides on (a blocklist, archive preferences: the database is down). It cannot
    /// say the stanza may pass, so the stanza is not delivered; the sender of a message or iq gets
    /// internal-server-error of type 'wait' (RFC 6120 §8.3.2: retry after waiting), as for a failed offline store, and
    /// the sender's stream stays up. Presence is dropped (its sender expects no answer).
    /// </summary>
    private StanzaFilterResult FilterFailed(XmlElement stanza, Tendril.Storage.StorageException ex)
    {
        var server = Server;
        // One line when the outage starts, counts while it lasts, one when it ends (issue 18: a stack trace per stanza).
        server.StorageOutage.Refusal($"a filter could not decide on a {stanza.Name} (it was not delivered)", ex);
        if (stanza.Name != "presence")
        {
            server.Router.BounceError(stanza, new Tendril.Protocol.Errors.StanzaError(Tendril.Protocol.Errors.StanzaErrorCondition.InternalServerError,
                Tendril.Protocol.Errors.StanzaErrorType.Wait, "The stanza could not be processed; try again later."));
        }
        return StanzaFilterResult.Drop;
    }

    /// <summary>Raised after a session has bound a resource.</summary>
    public event Func<Routing.C2sSession, ValueTask>? SessionBound;

    /// <summary>
    /// Raised when a bound session sends its initial available presence (RFC 6121 §4.2), after the broadcast and the
    /// presence handler's probes: the moment to deliver what waited for the user (offline messages, last pubsub items).
    /// </summary>
    public event Func<Routing.C2sSession, ValueTask>? SessionAvailable;

    /// <summary>
    /// Raised synchronously (handlers must not block) when a message for a local account is kept for later instead of
    /// reaching a connected client: stored offline, or queued for a hibernating XEP-0198 session (<paramref name="to"/>
    /// then its full JID). Push notifications (XEP-0357) listen.
    /// </summary>
    public event Action<XmlElement, Tendril.Protocol.Jid>? MessageHeld;

    public void RaiseMessageHeld(XmlElement message, Tendril.Protocol.Jid to) => MessageHeld?.Invoke(message, to);

    /// <summary>Raised after a bound session has ended (its unavailable presence already broadcast).</summary>
    public event Func<Routing.C2sSession, ValueTask>? SessionClosed;

    /// <summary>
    /// Raised when a graceful stop begins: the listeners are closed and the streams read nothing more, but they are
    /// still open — what a feature sends now reaches the clients before their streams end with system-shutdown (group
    /// chat rooms tell their occupants with status 332).
    /// </summary>
    public event Func<ValueTask>? ServerStopping;

    internal async ValueTask RaiseServerStoppingAsync()
    {
        var handlers = ServerStopping;
        if (handlers is null) return;
        foreach (var h in handlers.GetInvocationList()) await ((Func<ValueTask>)h)().ConfigureAwait(false);
    }

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

    internal void Freeze()
    {
        _outboundFilters = ByKind(_outboundList);
        _inboundFilters = ByKind(_inboundList);
        _frozen = true;
    }

    private void ThrowIfFrozen()
    {
        if (_frozen) throw new InvalidOperationException("Features register only at start.");
    }
}

using System.Collections.Concurrent;
using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>
/// The pubsub engine for one service JID (XEP-0060): a service such as <c>pubsub.example.org</c>, or — with another
/// <see cref="PubSubServicePolicy"/> — a PEP service at an account's bare JID (XEP-0163). It keeps the service's nodes,
/// affiliations, subscriptions and each node's newest item in memory (loaded from the store on first use, written
/// through on every change), so a publish reads no configuration or subscriber list from the database.
/// </summary>
/// <remarks>
/// Use cases are split by concern: <c>PubSubService.Subscriber.cs</c> (§6), <c>PubSubService.Publisher.cs</c> (§7),
/// <c>PubSubService.Owner.cs</c> (§8), <c>PubSubService.Disco.cs</c> (§5). Each throws <see cref="PubSubException"/>
/// carrying the XEP's error; <see cref="HandleStanzaAsync"/> turns that into the error reply.
/// </remarks>
public sealed partial class PubSubService
{
    // Small initial tables: a PEP service exists per online account and usually holds a handful of nodes; the
    // defaults (31 buckets, one lock per core) cost ~0.4 KiB per dictionary per account. They grow as needed.
    private readonly ConcurrentDictionary<string, PubSubNode> _nodes = new(concurrencyLevel: 1, capacity: 4, StringComparer.Ordinal);
    private readonly SemaphoreSlim _loadGate = new(1, 1);
    private readonly SemaphoreSlim _createGate = new(1, 1);
    private readonly Func<XmppServer> _server;
    private ILogger? _logger;
    private volatile bool _loaded;
    private int _generation; // bumped by InvalidateAsync

    /// <param name="jid">The service JID (a domain for a pubsub service, an account's bare JID for PEP).</param>
    /// <param name="policy">Who may create nodes, the roster oracle for the presence/roster access models, limits.</param>
    /// <param name="server">The running server: its storage, clock, router and sessions (resolved on use).</param>
    public PubSubService(Jid jid, PubSubServicePolicy policy, Func<XmppServer> server)
    {
        Jid = jid;
        JidString = jid.ToString();
        Policy = policy;
        _server = server;
        Notifier = new PubSubNotifier(server);
        Store = new ChangeAnnouncingPubSubStore(this, () => _server().Storage.PubSub);
    }

    public Jid Jid { get; }

    public string JidString { get; }

    /// <summary>
    /// The shared store, as this service must use it: every write through it announces the change to the other cluster
    /// nodes (<see cref="ChangeAnnouncingPubSubStore"/>), whichever path — XMPP or HTTP — made it.
    /// </summary>
    public IPubSubStore Store { get; }

    public PubSubServicePolicy Policy { get; }

    public TimeProvider Time => _server().Time;

    public PubSubNotifier Notifier { get; }

    private ILogger Logger => _logger ??= _server().LoggerFactory.CreateLogger("Tendril.PubSub");

    /// <summary>
    /// Called after each write of the service's state to the store (nodes, subscriptions, affiliations, items), whatever
    /// path made it: in a cluster, the other nodes drop their copy of the service and read it again on next use.
    /// </summary>
    public Action<PubSubService>? ChangedLocally { get; set; }

    /// <summary>Forgets the in-memory state; the next request reads the service from the store again.</summary>
    public async ValueTask InvalidateAsync()
    {
        await _loadGate.WaitAsync().ConfigureAwait(false);
        try
        {
            _loaded = false;
            Interlocked.Increment(ref _generation);
            _nodes.Clear();
            _subscribedNodes.Clear();
        }
        finally
        {
            _loadGate.Release();
        }
    }

    /// <summary>Whether the service's state has been read from the store.</summary>
    public bool IsLoaded => _loaded;

    /// <summary>Loads the service from the store once (later calls return at once).</summary>
    public async ValueTask EnsureLoadedAsync(CancellationToken cancellationToken = default)
    {
        if (_loaded) return;
        await _loadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_loaded) return;
            Apply(await Store.LoadServiceAsync(JidString, cancellationToken).ConfigureAwait(false));
        }
        finally
        {
            _loadGate.Release();
        }
    }

    /// <summary>
    /// Takes a snapshot read for this service along with others (<see cref="IPubSubStore.LoadServicesAsync"/>, one
    /// query for many services); ignored when the service is loaded already.
    /// </summary>
    public async ValueTask LoadFromAsync(PubSubServiceSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (_loaded) return;
        await _loadGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!_loaded) Apply(snapshot);
        }
        finally
        {
            _loadGate.Release();
        }
    }

    private void Apply(PubSubServiceSnapshot snapshot)
    {
        foreach (var n in snapshot.Nodes)
        {
            _nodes[n.Node] = new PubSubNode(n.Node, NodeConfig.FromMap(n.Config, Policy.MaxItemsLimit), n.Creator, n.CreatedAt);
        }
        foreach (var group in snapshot.Affiliations.GroupBy(a => a.Node))
        {
            if (_nodes.TryGetValue(group.Key, out var node))
                node.Affiliations = group.ToImmutableDictionary(a => a.Jid, a => a.Affiliation, StringComparer.Ordinal);
        }
        foreach (var group in snapshot.Subscriptions.GroupBy(s => s.Node))
        {
            if (!_nodes.TryGetValue(group.Key, out var node)) continue;
            var list = ImmutableArray.CreateBuilder<PubSubSubscription>();
            foreach (var s in group)
            {
                if (Jid.TryParse(s.Jid, out var jid)) list.Add(new PubSubSubscription(jid, s.SubId, s.State, s.Options));
            }
            node.Subscriptions = list.ToImmutable();
        }
        foreach (var item in snapshot.LastItems)
        {
            if (_nodes.TryGetValue(item.Node, out var node)) node.LastItem = new PubSubItem(item, null);
        }
        IndexAllSubscribers();
        _loaded = true;
    }

    /// <summary>The nodes, in no particular order (after <see cref="EnsureLoadedAsync"/>).</summary>
    public IEnumerable<PubSubNode> Nodes => _nodes.Values;

    public bool TryGetNode(string id, out PubSubNode node) => _nodes.TryGetValue(id, out node!);

    /// <summary>Handles any stanza addressed to the service (the hosted-domain handler).</summary>
    public async ValueTask HandleStanzaAsync(XmlElement stanza, Jid from, Jid to)
    {
        switch (stanza.Name)
        {
            case "iq":
                await HandleIqAsync(stanza, from, to).ConfigureAwait(false);
                break;
            case "message":
                if (stanza.GetAttribute("type") == "error") return;
                await EnsureLoadedAsync().ConfigureAwait(false);
                await HandleAuthorizationAnswerAsync(stanza, from).ConfigureAwait(false);
                break;
            default:
                // Directed presence to the service carries no meaning here (last items on presence come from the
                // server's own presence tracking, see PubSubFeature).
                break;
        }
    }

    private async ValueTask HandleIqAsync(XmlElement iq, Jid from, Jid to)
    {
        var type = iq.GetAttribute("type");
        if (type is not ("get" or "set")) return; // results and errors: the service sends no requests
        var payload = iq.FirstElement();
        var router = _server().Router;
        XmlElement? result;
        var after = new AfterReply();
        try
        {
            result = await DispatchLoadedAsync(type == "set", payload!, from, after).ConfigureAwait(false);
        }
        catch (PubSubException e)
        {
            router.BounceError(iq, e.Error);
            return;
        }
        catch (StorageException e)
        {
            Logger.LogError(e, "pubsub storage failure for {Service}", JidString);
            router.BounceError(iq, StanzaErrorCondition.InternalServerError);
            return;
        }
        var reply = new XmlElement("iq", Ns.Client).SetAttribute("type", "result").SetAttribute("id", iq.GetAttribute("id") ?? "")
            .SetAttribute("from", to.ToString()).SetAttribute("to", from.ToString());
        if (result is not null) reply.Add(result);
        router.DeliverFromServer(reply, from);
        after.Action?.Invoke();
    }

    /// <summary>Handles an iq the server routed to this service through an <see cref="IqRequest"/> (PEP at an account's bare JID).</summary>
    public async ValueTask HandleIqRequestAsync(IqRequest request)
    {
        XmlElement? result;
        var after = new AfterReply();
        try
        {
            result = await DispatchLoadedAsync(request.IsSet, request.Payload, request.From, after).ConfigureAwait(false);
        }
        catch (PubSubException e)
        {
            request.ReplyError(e.Error);
            return;
        }
        catch (StorageException e)
        {
            Logger.LogError(e, "pubsub storage failure for {Service}", JidString);
            request.ReplyError(StanzaErrorCondition.InternalServerError);
            return;
        }
        request.Reply(result);
        after.Action?.Invoke();
    }

    /// <summary>
    /// Loads the service and dispatches the request. In a cluster another node's change may drop this copy while the
    /// request runs (<see cref="InvalidateAsync"/>): a node then looks missing though it exists. An item-not-found raised
    /// while the copy was dropped is answered only after a second attempt on the reloaded state (a failed request wrote
    /// nothing, so it is safe to run again).
    /// </summary>
    private async ValueTask<XmlElement?> DispatchLoadedAsync(bool set, XmlElement payload, Jid from, AfterReply after)
    {
        var generation = Volatile.Read(ref _generation);
        try
        {
            await EnsureLoadedAsync().ConfigureAwait(false);
            return await DispatchAsync(set, payload, from, after).ConfigureAwait(false);
        }
        catch (PubSubException e) when (e.Error.Condition == StanzaErrorCondition.ItemNotFound && generation != Volatile.Read(ref _generation))
        {
            await EnsureLoadedAsync().ConfigureAwait(false);
            return await DispatchAsync(set, payload, from, after).ConfigureAwait(false);
        }
    }

    /// <summary>Work that must follow the iq result (the last published item after the subscribe result, §6.1.7).</summary>
    private sealed class AfterReply
    {
        public Action? Action;
    }

    private ValueTask<XmlElement?> DispatchAsync(bool set, XmlElement payload, Jid from, AfterReply after)
    {
        if (payload.Is("query", Ns.DiscoInfo)) return set ? throw PubSubErrors.BadRequest() : ValueTask.FromResult<XmlElement?>(DiscoInfo(payload.GetAttribute("node")));
        if (payload.Is("query", Ns.DiscoItems)) return set ? throw PubSubErrors.BadRequest() : DiscoItemsAsync(payload.GetAttribute("node"), from);
        if (payload.Name == "pubsub" && payload.Namespace is PubSubNs.PubSub or PubSubNs.Owner)
        {
            var owner = payload.Namespace == PubSubNs.Owner;
            var verb = payload.FirstElement() ?? throw PubSubErrors.BadRequest("The pubsub element is empty.");
            return (owner, set, verb.Name) switch
            {
                (false, true, "create") => CreateAsync(payload, verb, from),
                (false, true, "publish") => PublishIqAsync(payload, verb, from),
                (false, true, "retract") => RetractIqAsync(verb, from),
                (false, true, "subscribe") => SubscribeIqAsync(payload, verb, from, after),
                (false, true, "unsubscribe") => UnsubscribeIqAsync(verb, from),
                (false, false, "options") => OptionsGetAsync(verb, from),
                (false, true, "options") => OptionsSetAsync(verb, from),
                (false, false, "items") => ItemsIqAsync(payload, verb, from),
                (false, false, "subscriptions") => ValueTask.FromResult<XmlElement?>(OwnSubscriptions(verb, from)),
                (false, false, "affiliations") => ValueTask.FromResult<XmlElement?>(OwnAffiliations(verb, from)),
                (false, false, "default") => ValueTask.FromResult<XmlElement?>(DefaultSubscriptionOptions()),
                (true, false, "configure") => ConfigureGetAsync(verb, from),
                (true, true, "configure") => ConfigureSetAsync(verb, from),
                (true, false, "default") => ValueTask.FromResult<XmlElement?>(DefaultConfig()),
                (true, true, "delete") => DeleteIqAsync(verb, from),
                (true, true, "purge") => PurgeIqAsync(verb, from),
                (true, false, "subscriptions") => ValueTask.FromResult<XmlElement?>(NodeSubscriptions(verb, from)),
                (true, true, "subscriptions") => SetSubscriptionsAsync(verb, from),
                (true, false, "affiliations") => ValueTask.FromResult<XmlElement?>(NodeAffiliations(verb, from)),
                (true, true, "affiliations") => SetAffiliationsAsync(verb, from),
                (_, _, "create" or "publish" or "retract" or "subscribe" or "unsubscribe" or "options" or "items" or "subscriptions"
                    or "affiliations" or "default" or "configure" or "delete" or "purge") => throw PubSubErrors.BadRequest($"<{verb.Name}/> does not go with type '{(set ? "set" : "get")}' here."),
                _ => throw PubSubErrors.Of(StanzaErrorCondition.FeatureNotImplemented, text: $"<{verb.Name}/> is not implemented."),
            };
        }
        throw PubSubErrors.Of(StanzaErrorCondition.ServiceUnavailable);
    }

    // ---- shared helpers --------------------------------------------------------------------------------------------

    internal static string RequireNodeId(XmlElement verb) =>
        verb.GetAttribute("node") is { Length: > 0 } id ? id : throw PubSubErrors.NodeIdRequired();

    internal PubSubNode RequireNode(string id) =>
        _nodes.TryGetValue(id, out var node) && !node.Deleted ? node : throw PubSubErrors.ItemNotFound($"No node '{id}'.");

    /// <summary>Takes the node's gate; the node may have been deleted while waiting (then item-not-found).</summary>
    internal async ValueTask<PubSubNode> LockNodeAsync(string id)
    {
        var node = RequireNode(id);
        await node.Gate.WaitAsync().ConfigureAwait(false);
        if (node.Deleted)
        {
            node.Gate.Release();
            throw PubSubErrors.ItemNotFound($"No node '{id}'.");
        }
        return node;
    }

    internal static void RequireOwner(PubSubNode node, Jid requester)
    {
        if (node.AffiliationOf(requester) != "owner") throw PubSubErrors.Forbidden("Only an owner of the node may do this.");
    }

    /// <summary>
    /// The access model check for subscribing and retrieving items (XEP-0060 §4.5, §6.1.3, §6.5.9). Owners, publishers and
    /// members pass; outcasts and publish-only entities are forbidden; others depend on the model.
    /// </summary>
    internal async ValueTask CheckAccessAsync(PubSubNode node, Jid requester, bool subscribing)
    {
        switch (node.AffiliationOf(requester))
        {
            case "owner" or "publisher" or "member":
                return;
            case "outcast":
                throw PubSubErrors.Forbidden("You are blocked from this node.");
            case "publish-only":
                throw PubSubErrors.Forbidden("A publish-only entity may not subscribe or retrieve items.");
        }
        var config = node.Config;
        switch (config.AccessModel)
        {
            case AccessModel.Open:
                return;
            case AccessModel.Presence:
                foreach (var owner in node.Owners)
                {
                    if (await Policy.Access.HasPresenceSubscriptionAsync(owner, requester.Bare).ConfigureAwait(false)) return;
                }
                throw PubSubErrors.PresenceSubscriptionRequired();
            case AccessModel.Roster:
                foreach (var owner in node.Owners)
                {
                    var groups = await Policy.Access.RosterGroupsAsync(owner, requester.Bare).ConfigureAwait(false);
                    if (groups.Any(g => config.RosterGroupsAllowed.Contains(g, StringComparer.Ordinal))) return;
                }
                throw PubSubErrors.NotInRosterGroup();
            case AccessModel.Whitelist:
                throw PubSubErrors.ClosedNode();
            case AccessModel.Authorize:
                if (subscribing || node.HasActiveSubscription(requester)) return;
                throw PubSubErrors.NotSubscribedAuth();
        }
    }

    internal string NewId() => Guid.CreateVersion7(Time.GetUtcNow()).ToString("N");
}

using Tendril.Server.Configuration;
using System.Collections.Concurrent;
using Tendril.Protocol;
using Tendril.Server.Features.PubSub;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Pep;

/// <summary>
/// Personal Eventing Protocol (XEP-0163): every account is a pubsub service at its bare JID. A per-account
/// <see cref="PubSubService"/> (created on first use, cached) with PEP defaults — access model presence, max_items 1,
/// send_last_published_item on_sub_and_presence, auto-create on publish, only the owner creates and publishes — stores
/// through the shared <see cref="IPubSubStore"/> with the account's bare JID as the service JID. Item events go, besides
/// explicit subscriptions, to the owner's contacts with a presence subscription (from/both) and the owner's own
/// resources whose entity capabilities (XEP-0115) include <c>NODE+notify</c> ("implicit subscription", §4.3) — item,
/// retract, delete and purge events alike. A client that changes its caps mid-session is asked again and gets the
/// newest items of the nodes it now wants. The account's nodes are discoverable on its bare JID
/// (<see cref="IAccountDiscoProvider"/>): the owner sees all, others what the access model lets them see.
/// </summary>
public sealed class PepFeature : IServerFeature, IAccountDiscoProvider
{
    /// <summary>The pubsub#… features PEP advertises on the account (what the engine implements for PEP nodes).</summary>
    public static readonly IReadOnlyList<string> Features =
    [
        "access-presence", "access-open", "access-roster", "access-whitelist", "auto-create", "auto-subscribe",
        "config-node", "config-node-max", "create-and-configure", "create-nodes", "delete-items", "delete-nodes", "filtered-notifications",
        "item-ids", "last-published", "persistent-items", "publish", "publish-options", "purge-nodes", "retract-items",
        "retrieve-items", "subscribe",
    ];

    private readonly ConcurrentDictionary<Jid, PubSubService> _services = new(BareJidComparer.Instance);
    private readonly ConcurrentDictionary<C2sSession, LastItemWindow> _lastItemWindows = new();
    private XmppServer? _server;
    private EntityCapabilities? _caps;

    public XmppServer Server => _server ?? throw new InvalidOperationException("PEP is not attached to a running server.");

    /// <summary>The entity-capabilities cache used for +notify filtering.</summary>
    public EntityCapabilities Caps => _caps ?? throw new InvalidOperationException("PEP is not attached to a running server.");

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        _caps = new EntityCapabilities(() => Server);
        registry.HandleIq("pubsub", PubSubNs.PubSub, HandleAsync, IqTarget.Account);
        registry.HandleIq("pubsub", PubSubNs.Owner, HandleAsync, IqTarget.Account);
        registry.AddDiscoIdentity(new DiscoIdentity("pubsub", "pep"), IqTarget.Account);
        registry.AddDiscoFeature(PubSubNs.PubSub, IqTarget.Account);
        foreach (var f in Features) registry.AddDiscoFeature(PubSubNs.Feature(f), IqTarget.Account);
        _server.Cluster.OnAccountEvent(ClusterEvent, OnClusterNotifyAsync);
        // Another node changed an account's PEP service: drop the copy here (read again from the store on next use).
        _server.Cluster.OnAccountEvent(PubSubCluster.PepEventName, (_, payload) =>
            payload.GetAttribute("service") is { } changed && Jid.TryParse(changed, out var owner) && _services.TryGetValue(owner, out var s) ? s.InvalidateAsync() : ValueTask.CompletedTask);
        _server.Cluster.EventsMissed += () => PubSubCluster.InvalidateAll(_services.Values);
        registry.SetAccountDiscoProvider(this);
        registry.SessionAvailable += session =>
        {
            // The caps round trip goes through this session's own stream: do not wait for it here.
            _ = Task.Run(() => SendLastItemsOnLoginAsync(session, _lastItemWindows.GetValueOrDefault(session)));
            return ValueTask.CompletedTask;
        };
        registry.SessionClosed += session =>
        {
            Caps.Forget(session.Jid);
            _lastItemWindows.TryRemove(session, out _);
            return ValueTask.CompletedTask;
        };
        registry.AddOutboundFilter(StanzaKinds.Presence, StanzaStage.Observe, OnClientStanza);
    }

    /// <summary>
    /// A later available presence (not the initial one) whose caps differ from the session's current ones: the client
    /// changed its features mid-session. The new ver is resolved (a disco#info query unless known) and the newest item
    /// of each node that became +notify is sent (XEP-0163 §4.3: last published item on a new implicit subscription).
    /// Synchronous and allocation-free for every other stanza.
    /// </summary>
    private ValueTask<StanzaFilterResult> OnClientStanza(C2sSession origin, XmlElement stanza, Jid? to)
    {
        if (to is null && stanza.Name == "presence" && stanza.GetAttribute("type") is null && EntityCapabilities.CapsOf(stanza) is { } caps)
        {
            if (!origin.IsAvailable)
            {
                // Initial presence: the window opens before the caps take effect (the presence is handled after the filters).
                LastItemWindow.Open(_lastItemWindows, origin);
            }
            else if (EntityCapabilities.CapsOf(origin)?.Ver != caps.Ver)
            {
                var before = Caps.FeaturesFor(origin);
                var window = LastItemWindow.Open(_lastItemWindows, origin);
                _ = Task.Run(() => OnCapsChangedAsync(origin, caps, before, window));
            }
        }
        return new(StanzaFilterResult.Continue);
    }

    private async Task OnCapsChangedAsync(C2sSession session, EntityCapabilities.Caps caps, IReadOnlySet<string>? before, LastItemWindow window)
    {
        try
        {
            var after = await Caps.ResolveAsync(session.Jid, caps).ConfigureAwait(false);
            if (after is null || session.IsClosed) return;
            HashSet<string>? added = null;
            foreach (var feature in after)
            {
                if (!feature.EndsWith("+notify", StringComparison.Ordinal) || (before is not null && before.Contains(feature))) continue;
                (added ??= new HashSet<string>(StringComparer.Ordinal)).Add(feature[..^"+notify".Length]);
            }
            if (added is not null) await SendLastItemsAsync(session, after, added, window).ConfigureAwait(false);
        }
        finally
        {
            window.Close(_lastItemWindows, session);
        }
    }

    /// <summary>The PEP service of a local account (created on first use).</summary>
    public PubSubService ServiceFor(Jid account) => _services.GetOrAdd(account.Bare, CreateService);

    private PubSubService CreateService(Jid owner)
    {
        var roster = new RosterQueries(Server.Storage);
        var policy = new PubSubServicePolicy
        {
            Name = "Personal Eventing",
            MayCreateNodes = creator => creator.Bare == owner,
            AutoCreateOnPublish = true,
            MaxItemsLimit = Server.Options.PubSub.MaxItems,
                MaxNodesPerOwner = Server.Options.PubSub.MaxNodesPerAccount,
            MaxPayloadBytes = Server.Options.PubSub.MaxPayloadBytes,
            DefaultConfig = new NodeConfig { AccessModel = AccessModel.Presence, MaxItems = 1, SendLastPublishedItem = SendLastPublished.OnSubAndPresence },
            Access = new RosterAccessContext(roster),
            ImplicitDelivery = DeliverImplicitAsync,
            Changed = NotifyObserversAsync,
        };
        var service = new PubSubService(owner, policy, () => Server);
        if (Server.Cluster.IsClustered) service.ChangedLocally = PubSubCluster.Announce(Server, pep: true);
        return service;
    }

    private async ValueTask NotifyObserversAsync(PubSubService service, string nodeId, XmlElement change)
    {
        foreach (var observer in Server.ServerFeatures.OfType<IPepObserver>())
            await observer.OnPepChangedAsync(service.Jid, nodeId, change).ConfigureAwait(false);
    }

    private ValueTask HandleAsync(IqRequest request)
    {
        if (request.To.Local is null)
        {
            request.ReplyError(Tendril.Protocol.Errors.StanzaErrorCondition.ServiceUnavailable);
            return ValueTask.CompletedTask;
        }
        return ServiceFor(request.To).HandleIqRequestAsync(request);
    }

    /// <summary>The accounts whose PEP events <paramref name="node"/>'s owner may send to: itself and its presence subscribers that pass the access model.</summary>
    private async ValueTask<List<Jid>> RecipientsAsync(PubSubService service, PubSubNode node)
    {
        var owner = service.Jid;
        var list = new List<Jid> { owner };
        var roster = await Server.Storage.Rosters.GetAsync(owner.Domain, owner.Local!).ConfigureAwait(false);
        foreach (var item in roster.Items)
        {
            if (item.Subscription is not (RosterSubscription.From or RosterSubscription.Both)) continue;
            if (!Jid.TryParse(item.Jid, out var contact) || contact.Local is null || contact.Domain != Server.Domain) continue;
            try
            {
                await service.CheckAccessAsync(node, contact, subscribing: false).ConfigureAwait(false);
                list.Add(contact);
            }
            catch (PubSubException)
            {
            }
        }
        return list;
    }

    private async ValueTask DeliverImplicitAsync(PubSubService service, PubSubNode node, XmlElement content)
    {
        SerializedStanza? once = null;
        var notify = node.Id + "+notify";
        foreach (var account in await RecipientsAsync(service, node).ConfigureAwait(false))
        {
            var resources = Server.Delivery.Of(account);
            foreach (var session in resources.Here)
            {
                if (!session.IsAvailable || !Caps.Has(session, notify)) continue;
                if (node.HasActiveSubscription(session.Jid)) continue; // explicit subscription already delivered
                once ??= new SerializedStanza(service.Notifier.Message(service.Jid, content, type: node.Config.MessageType));
                Server.Delivery.TryDeliver(session, once);
                if (_lastItemWindows.TryGetValue(session, out var window)) window.Delivered(service.JidString, node.Id, content);
            }
            // Sessions on other nodes: their node knows their entity capabilities and decides there.
            var remotes = resources.Elsewhere;
            if (remotes.Length == 0) continue;
            var payload = new XmlElement("notify", ClusterNamespace).SetAttribute("var", notify);
            foreach (var r in remotes)
            {
                if (node.HasActiveSubscription(r.Jid)) payload.AddElement("skip").SetAttribute("jid", r.JidString);
            }
            payload.Add(once?.Element ?? service.Notifier.Message(service.Jid, content, type: node.Config.MessageType));
            Server.Cluster.SendAccountEvent(account, ClusterEvent, payload);
        }
    }

    private const string ClusterEvent = "pep-notify";
    private const string ClusterNamespace = "urn:tendril:cluster:pep";

    /// <summary>Another node's PEP event for this node's sessions of <paramref name="account"/> that want it (+notify).</summary>
    private ValueTask OnClusterNotifyAsync(Jid account, XmlElement payload)
    {
        var notify = payload.GetAttribute("var");
        if (notify is null || payload.Element("message") is not { } message) return ValueTask.CompletedTask;
        SerializedStanza? once = null;
        foreach (var session in Server.Delivery.Here(account))
        {
            if (!session.IsAvailable || !Caps.Has(session, notify) || Skipped(payload, session.JidString)) continue;
            once ??= new SerializedStanza(message);
            Server.Delivery.TryDeliver(session, once);
        }
        return ValueTask.CompletedTask;

        static bool Skipped(XmlElement payload, string jid)
        {
            foreach (var child in payload.Elements())
            {
                if (child.Name == "skip" && child.GetAttribute("jid") == jid) return true;
            }
            return false;
        }
    }

    private async Task SendLastItemsOnLoginAsync(C2sSession session, LastItemWindow? window)
    {
        try
        {
            if (await Caps.ResolveAsync(session).ConfigureAwait(false) is { } features) await SendLastItemsAsync(session, features, null, window).ConfigureAwait(false);
        }
        finally
        {
            window?.Close(_lastItemWindows, session);
        }
    }

    /// <summary>
    /// The newest item of every PEP node the session may see and wants (<paramref name="features"/> has NODE+notify;
    /// only the nodes in <paramref name="only"/> when given), from its own account and from every contact it is
    /// subscribed to: at login, and when its caps gain +notify features. Each node is read under its gate, the gate a
    /// publish holds while it notifies: an item the live notification already brought to this session since its caps
    /// changed (recorded in <paramref name="window"/>) is not sent again; any later publish is newer than what is sent.
    /// </summary>
    private async Task SendLastItemsAsync(C2sSession session, IReadOnlySet<string> features, IReadOnlySet<string>? only, LastItemWindow? window)
    {
        try
        {
            var me = session.Jid.Bare;
            var owners = new List<Jid> { me };
            var roster = await Server.Storage.Rosters.GetAsync(me.Domain, me.Local!).ConfigureAwait(false);
            foreach (var item in roster.Items)
            {
                if (item.Subscription is not (RosterSubscription.To or RosterSubscription.Both)) continue;
                if (Jid.TryParse(item.Jid, out var owner) && owner.Local is not null && owner.Domain == Server.Domain) owners.Add(owner);
            }
            // The PEP services not in memory yet (the first login after a start): one store call for all of them, not
            // one per contact.
            var missing = new List<string>();
            foreach (var owner in owners)
            {
                var service = ServiceFor(owner);
                if (!service.IsLoaded) missing.Add(service.JidString);
            }
            if (missing.Count > 1)
            {
                var snapshots = await Server.Storage.PubSub.LoadServicesAsync(missing).ConfigureAwait(false);
                foreach (var owner in owners)
                {
                    var service = ServiceFor(owner);
                    if (snapshots.TryGetValue(service.JidString, out var snapshot)) await service.LoadFromAsync(snapshot).ConfigureAwait(false);
                }
            }
            foreach (var owner in owners)
            {
                var service = ServiceFor(owner);
                await service.EnsureLoadedAsync().ConfigureAwait(false);
                foreach (var node in service.Nodes)
                {
                    if (node.Deleted || node.LastItem is null || node.Config.SendLastPublishedItem != SendLastPublished.OnSubAndPresence) continue;
                    if ((only is not null && !only.Contains(node.Id)) || !features.Contains(node.Id + "+notify")) continue;
                    await node.Gate.WaitAsync().ConfigureAwait(false);
                    try
                    {
                        if (node.Deleted || node.LastItem is not { } last || (window is not null && window.Has(service.JidString, node.Id, last.Id))) continue;
                        try
                        {
                            await service.CheckAccessAsync(node, session.Jid, subscribing: false).ConfigureAwait(false);
                        }
                        catch (PubSubException)
                        {
                            continue;
                        }
                        service.Notifier.DeliverTo(session, service.Notifier.Message(service.Jid, PubSubService.ItemsEvent(node, [last]), last.Record.PublishedAt, node.Config.MessageType));
                    }
                    finally
                    {
                        node.Gate.Release();
                    }
                }
            }
        }
        catch (Exception e) when (e is StorageException or PubSubException)
        {
        }
    }

    // ---- discovery of an account's PEP nodes (XEP-0060 §5.2–§5.5 on the bare JID, XEP-0163 §6) ---------------------

    /// <summary>disco#info or disco#items with a node, to an account: the PEP service answers (§5.3 node meta-data, §5.5 item ids).</summary>
    public async ValueTask HandleNodeQueryAsync(IqRequest request)
    {
        var service = ServiceFor(request.To);
        try
        {
            await service.EnsureLoadedAsync().ConfigureAwait(false);
        }
        catch (StorageException)
        {
            request.ReplyError(Tendril.Protocol.Errors.StanzaErrorCondition.InternalServerError);
            return;
        }
        // A node the requester may not see looks absent: private nodes (XEP-0223 whitelist) stay unknown to others.
        if (!await service.IsVisibleAsync(request.Payload.GetAttribute("node")!, request.From).ConfigureAwait(false))
        {
            request.ReplyError(Tendril.Protocol.Errors.StanzaErrorCondition.ItemNotFound);
            return;
        }
        await service.HandleIqRequestAsync(request).ConfigureAwait(false);
    }

    /// <summary>disco#items without a node on an account: its PEP nodes the requester may see (the owner all, others by access model).</summary>
    public async ValueTask AddItemsAsync(Jid account, Jid requester, XmlElement query)
    {
        var service = ServiceFor(account);
        await service.EnsureLoadedAsync().ConfigureAwait(false);
        foreach (var node in await service.VisibleNodesAsync(requester).ConfigureAwait(false))
        {
            var item = query.AddElement("item").SetAttribute("jid", service.JidString).SetAttribute("node", node.Id);
            if (node.Config.Title.Length > 0) item.SetAttribute("name", node.Config.Title);
        }
    }
}

/// <summary>A feature told of every item published to or retracted from an account's PEP node (after the fact).</summary>
public interface IPepObserver
{
    /// <summary><paramref name="change"/>: the &lt;items/&gt; event with the published &lt;item/&gt; or the &lt;retract/&gt;.</summary>
    ValueTask OnPepChangedAsync(Jid owner, string nodeId, XmlElement change);
}

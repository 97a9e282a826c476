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
/// resources whose entity capabilities (XEP-0115) include <c>NODE+notify</c> ("implicit subscription", §4.3).
/// </summary>
public sealed class PepFeature : IServerFeature
{
    /// <summary>The pubsub#… features PEP advertises on the account (what the engine implements for PEP nodes).</summary>
    public static readonly IReadOnlyList<string> Features =
    [
        "access-presence", "access-open", "access-roster", "access-whitelist", "auto-create", "auto-subscribe",
        "config-node", "create-and-configure", "create-nodes", "delete-items", "delete-nodes", "filtered-notifications",
        "item-ids", "last-published", "persistent-items", "publish", "publish-options", "purge-nodes", "retract-items",
        "retrieve-items", "subscribe",
    ];

    private readonly ConcurrentDictionary<Jid, PubSubService> _services = new(BareJidComparer.Instance);
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
        registry.SessionAvailable += session =>
        {
            // The caps round trip goes through this session's own stream: do not wait for it here.
            _ = Task.Run(() => SendLastItemsAsync(session));
            return ValueTask.CompletedTask;
        };
    }

    /// <summary>The PEP service of a local account (created on first use).</summary>
    public PubSubService ServiceFor(Jid account) => _services.GetOrAdd(account.Bare, CreateService);

    private PubSubService CreateService(Jid owner)
    {
        var roster = new Roster.RosterQueries(Server.Storage);
        var policy = new PubSubServicePolicy
        {
            Name = "Personal Eventing",
            MayCreateNodes = creator => creator.Bare == owner,
            AutoCreateOnPublish = true,
            MaxItemsLimit = Server.Options.PubSub.MaxItems,
            MaxPayloadBytes = Server.Options.PubSub.MaxPayloadBytes,
            DefaultConfig = new NodeConfig { AccessModel = AccessModel.Presence, MaxItems = 1, SendLastPublishedItem = SendLastPublished.OnSubAndPresence },
            Access = new RosterAccessContext(roster),
            ImplicitDelivery = DeliverImplicitAsync,
            Changed = NotifyObserversAsync,
        };
        return new PubSubService(owner, policy, () => Server);
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
            foreach (var session in Server.Sessions.FindAll(account))
            {
                if (!session.IsAvailable || !Caps.Has(session, notify)) continue;
                if (node.HasActiveSubscription(session.Jid)) continue; // explicit subscription already delivered
                once ??= new SerializedStanza(service.Notifier.Message(service.Jid, content));
                Server.Router.DeliverSerialized(session, once);
            }
        }
    }

    /// <summary>On login: the newest item of every PEP node the session may see and wants (+notify), from its own account and from every contact it is subscribed to.</summary>
    private async Task SendLastItemsAsync(C2sSession session)
    {
        try
        {
            await Caps.ResolveAsync(session).ConfigureAwait(false);
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
                    if (node.Deleted || node.LastItem is not { } last || node.Config.SendLastPublishedItem != SendLastPublished.OnSubAndPresence) continue;
                    if (!Caps.Has(session, node.Id + "+notify")) continue;
                    try
                    {
                        await service.CheckAccessAsync(node, session.Jid, subscribing: false).ConfigureAwait(false);
                    }
                    catch (PubSubException)
                    {
                        continue;
                    }
                    service.Notifier.DeliverTo(session, service.Notifier.Message(service.Jid, PubSubService.ItemsEvent(node, [last]), last.Record.PublishedAt));
                }
            }
        }
        catch (Exception e) when (e is StorageException or PubSubException)
        {
        }
    }
}

/// <summary>A feature told of every item published to or retracted from an account's PEP node (after the fact).</summary>
public interface IPepObserver
{
    /// <summary><paramref name="change"/>: the &lt;items/&gt; event with the published &lt;item/&gt; or the &lt;retract/&gt;.</summary>
    ValueTask OnPepChangedAsync(Jid owner, string nodeId, XmlElement change);
}

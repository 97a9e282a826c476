using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Features.Roster;
using Tendril.Xml;

namespace Tendril.Server.Features.Disco;

/// <summary>
/// Service discovery (XEP-0030): disco#info lists exactly the identities and features other features registered;
/// disco#items lists the server's items (hosted services). On an account's bare JID, node queries and the account's
/// items come from the <see cref="IAccountDiscoProvider"/> (PEP).
/// </summary>
public sealed class DiscoFeature : IServerFeature
{
    /// <summary>The caps node (XEP-0115 §4) naming this server software.</summary>
    public const string CapsNode = "urn:tendril:server";

    private XmlElement? _caps;

    public void Register(FeatureRegistry registry)
    {
        // XEP-0115 §6.3: the server announces its own capabilities in its stream features (read after authentication).
        registry.AddStreamFeature(NegotiationStep.Binding, stream => Caps(stream.Server.Features));
        registry.AddDiscoIdentity(new DiscoIdentity("server", "im", "Tendril"));
        registry.AddDiscoIdentity(new DiscoIdentity("account", "registered"), IqTarget.Account);
        registry.AddDiscoFeature(Ns.DiscoInfo, IqTarget.Server | IqTarget.Account);
        registry.AddDiscoFeature(Ns.DiscoItems, IqTarget.Server | IqTarget.Account);
        registry.HandleIq("query", Ns.DiscoInfo, InfoAsync, IqTarget.Server | IqTarget.Account);
        registry.AddDiscoFeature(EntityCapabilitiesNs, IqTarget.Server);
        registry.HandleIq("query", Ns.DiscoItems, ItemsAsync, IqTarget.Server | IqTarget.Account);
    }

    /// <summary>
    /// The checks both queries share: only get; an account other than the requester's own must exist (RFC 6121
    /// §8.5.1: service-unavailable otherwise). Returns null when it already answered.
    /// </summary>
    private static async ValueTask<IqTarget?> AcceptAsync(IqRequest request)
    {
        var target = request.To.IsDomain ? IqTarget.Server : IqTarget.Account;
        if (!request.IsGet)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest);
            return null;
        }
        if (target == IqTarget.Account && !IsOwn(request)
            && await request.Server.Storage.Accounts.FindAsync(request.To.Domain, request.To.Local!).ConfigureAwait(false) is null)
        {
            request.ReplyError(StanzaErrorCondition.ServiceUnavailable);
            return null;
        }
        return target;
    }

    private static bool IsOwn(IqRequest request) => request.To == request.From.Bare;

    /// <summary>A query with a node: on an account the PEP service answers (XEP-0060 §5.3, §5.5); the server has no nodes.</summary>
    private static ValueTask NodeQueryAsync(IqRequest request, IqTarget target)
    {
        if (target == IqTarget.Account && request.Server.Features.AccountDiscoProvider is { } provider) return provider.HandleNodeQueryAsync(request);
        request.ReplyError(StanzaErrorCondition.ItemNotFound);
        return ValueTask.CompletedTask;
    }

    private const string EntityCapabilitiesNs = "http://jabber.org/protocol/caps";

    /// <summary>
    /// The &lt;c/&gt; of the server's stream features: the sha-1 ver of its disco#info (features are fixed once the
    /// server started, so it is computed once).
    /// </summary>
    private XmlElement Caps(FeatureRegistry registry)
    {
        if (_caps is { } caps) return caps;
        var ver = EntityCapsHash.ComputeVer(ServerInfo(registry), "sha-1")!;
        return _caps = new XmlElement("c", EntityCapabilitiesNs).SetAttribute("hash", "sha-1").SetAttribute("node", CapsNode).SetAttribute("ver", ver);
    }

    private async ValueTask InfoAsync(IqRequest request)
    {
        if (await AcceptAsync(request).ConfigureAwait(false) is not { } target) return;
        if (request.Payload.GetAttribute("node") is { } node)
        {
            // XEP-0115 §6.2: the caps node#ver of the server's own announcement is answered like the plain query.
            if (target == IqTarget.Server && node == CapsNode + "#" + Caps(request.Server.Features).GetAttribute("ver"))
            {
                request.Reply(ServerInfo(request.Server.Features).SetAttribute("node", node));
                return;
            }
            await NodeQueryAsync(request, target).ConfigureAwait(false);
            return;
        }
        // Another user's account: answered for contacts with a presence subscription to it (as Prosody and ejabberd
        // do), so strangers learn nothing about the account; PEP nodes are found through disco#items.
        if (target == IqTarget.Account && !IsOwn(request)
            && !await new RosterQueries(request.Server.Storage).HasPresenceSubscriptionAsync(request.To, request.From.Bare).ConfigureAwait(false))
        {
            request.ReplyError(StanzaErrorCondition.ServiceUnavailable);
            return;
        }
        request.Reply(target == IqTarget.Server ? ServerInfo(request.Server.Features) : Info(request.Server.Features, target));
    }

    private static XmlElement ServerInfo(FeatureRegistry registry) => Info(registry, IqTarget.Server);

    private static XmlElement Info(FeatureRegistry registry, IqTarget target)
    {
        var query = new XmlElement("query", Ns.DiscoInfo);
        foreach (var identity in registry.DiscoIdentities(target))
        {
            var e = query.AddElement("identity").SetAttribute("category", identity.Category).SetAttribute("type", identity.Type);
            if (identity.Name is not null) e.SetAttribute("name", identity.Name);
        }
        foreach (var var in registry.DiscoFeatures(target))
        {
            query.AddElement("feature").SetAttribute("var", var);
        }
        if (target == IqTarget.Server)
        {
            foreach (var form in registry.DiscoInfoForms) query.Add(form);
        }
        return query;
    }

    private static async ValueTask ItemsAsync(IqRequest request)
    {
        if (await AcceptAsync(request).ConfigureAwait(false) is not { } target) return;
        if (request.Payload.GetAttribute("node") is not null)
        {
            await NodeQueryAsync(request, target).ConfigureAwait(false);
            return;
        }
        var query = new XmlElement("query", Ns.DiscoItems);
        if (target == IqTarget.Server)
        {
            foreach (var item in request.Server.Features.DiscoItems)
            {
                var e = query.AddElement("item").SetAttribute("jid", item.Jid);
                if (item.Name is not null) e.SetAttribute("name", item.Name);
                if (item.Node is not null) e.SetAttribute("node", item.Node);
            }
        }
        else if (request.Server.Features.AccountDiscoProvider is { } provider)
        {
            // The account's PEP nodes the requester may see: all for the owner, others by access model.
            await provider.AddItemsAsync(request.To, request.From, query).ConfigureAwait(false);
        }
        request.Reply(query);
    }
}

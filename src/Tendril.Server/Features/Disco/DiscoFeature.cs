using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Features.Disco;

/// <summary>
/// Service discovery (XEP-0030): disco#info lists exactly the identities and features other features registered;
/// disco#items lists the server's items (none yet; services such as pubsub register theirs later).
/// </summary>
public sealed class DiscoFeature : IServerFeature
{
    public void Register(FeatureRegistry registry)
    {
        registry.AddDiscoIdentity(new DiscoIdentity("server", "im", "Tendril"));
        registry.AddDiscoIdentity(new DiscoIdentity("account", "registered"), IqTarget.Account);
        registry.AddDiscoFeature(Ns.DiscoInfo, IqTarget.Server | IqTarget.Account);
        registry.AddDiscoFeature(Ns.DiscoItems, IqTarget.Server | IqTarget.Account);
        registry.HandleIq("query", Ns.DiscoInfo, InfoAsync, IqTarget.Server | IqTarget.Account);
        registry.HandleIq("query", Ns.DiscoItems, ItemsAsync, IqTarget.Server | IqTarget.Account);
    }

    /// <summary>
    /// The checks both queries share: only get; on an account only for the account itself (RFC 6121 §8.5.1); no
    /// nodes (PEP node discovery through this path is not wired yet). Returns false when it already answered.
    /// </summary>
    private static bool TryAccept(IqRequest request, out IqTarget target)
    {
        target = request.To.IsDomain ? IqTarget.Server : IqTarget.Account;
        if (!request.IsGet) request.ReplyError(StanzaErrorCondition.BadRequest);
        else if (target == IqTarget.Account && request.To != request.From.Bare) request.ReplyError(StanzaErrorCondition.ServiceUnavailable);
        else if (request.Payload.GetAttribute("node") is not null) request.ReplyError(StanzaErrorCondition.ItemNotFound);
        else return true;
        return false;
    }

    private static ValueTask InfoAsync(IqRequest request)
    {
        if (!TryAccept(request, out var target)) return ValueTask.CompletedTask;
        var query = new XmlElement("query", Ns.DiscoInfo);
        var registry = request.Server.Features;
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
        request.Reply(query);
        return ValueTask.CompletedTask;
    }

    private static ValueTask ItemsAsync(IqRequest request)
    {
        if (!TryAccept(request, out var target)) return ValueTask.CompletedTask;
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
        request.Reply(query);
        return ValueTask.CompletedTask;
    }
}

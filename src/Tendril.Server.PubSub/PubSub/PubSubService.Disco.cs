using System.Globalization;
using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>Service discovery on the service and its nodes (XEP-0060 §5.1–§5.5).</summary>
public sealed partial class PubSubService
{
    /// <summary>
    /// The pubsub#… features this engine implements, each backed by a working use case and a test. Collections,
    /// multi-subscribe, leased subscriptions and the pending-subscriptions ad-hoc command (get-pending) are not
    /// implemented and not advertised. Auto-create and presence-based delivery exist only as PEP policies
    /// (<see cref="PubSubServicePolicy"/>), so PEP advertises them and services like pubsub.DOMAIN do not.
    /// </summary>
    public static readonly IReadOnlyList<string> Features =
    [
        "access-authorize", "access-open", "access-presence", "access-roster", "access-whitelist",
        "config-node", "config-node-max", "create-and-configure", "create-nodes", "delete-items", "delete-nodes", "instant-nodes",
        "item-ids", "last-published", "manage-subscriptions", "member-affiliation", "meta-data",
        "modify-affiliations", "outcast-affiliation", "persistent-items", "publish", "publish-only-affiliation",
        "publish-options", "publisher-affiliation", "purge-nodes", "retract-items", "retrieve-affiliations",
        "retrieve-default", "retrieve-default-sub", "retrieve-items", "retrieve-subscriptions", "subscribe",
        "subscription-options", "subscription-notifications",
    ];

    private XmlElement DiscoInfo(string? nodeId)
    {
        var query = new XmlElement("query", Ns.DiscoInfo);
        if (nodeId is null)
        {
            query.AddElement("identity").SetAttribute("category", "pubsub").SetAttribute("type", "service").SetAttribute("name", Policy.Name);
            query.AddElement("feature").SetAttribute("var", Ns.DiscoInfo);
            query.AddElement("feature").SetAttribute("var", Ns.DiscoItems);
            query.AddElement("feature").SetAttribute("var", PubSubNs.PubSub);
            query.AddElement("feature").SetAttribute("var", PubSubNs.Rsm);
            foreach (var f in Features) query.AddElement("feature").SetAttribute("var", PubSubNs.Feature(f));
            return query;
        }
        var node = RequireNode(nodeId);
        query.SetAttribute("node", nodeId);
        query.AddElement("identity").SetAttribute("category", "pubsub").SetAttribute("type", "leaf");
        query.AddElement("feature").SetAttribute("var", PubSubNs.PubSub);
        query.AddElement("feature").SetAttribute("var", Ns.DiscoInfo);
        query.AddElement("feature").SetAttribute("var", Ns.DiscoItems);
        // §5.4: node meta-data.
        var config = node.Config;
        query.Add(DataForm.Build("result", PubSubNs.MetaData,
        [
            new("pubsub#title", "text-single", [config.Title]),
            new("pubsub#description", "text-single", [config.Description]),
            new("pubsub#type", "text-single", [config.PayloadType]),
            new("pubsub#owner", "jid-multi", [.. node.Owners.Select(o => o.ToString())]),
            new("pubsub#creator", "jid-single", [node.Creator]),
            new("pubsub#creation_date", "text-single", [XmppDateTime.Format(node.CreatedAt)]),
            new("pubsub#access_model", "list-single", [NodeConfig.Name(config.AccessModel)]),
            new("pubsub#publish_model", "list-single", [NodeConfig.Name(config.PublishModel)]),
            new("pubsub#num_subscribers", "text-single", [node.Subscriptions.Count(s => s.IsActive).ToString(CultureInfo.InvariantCulture)]),
        ]));
        return query;
    }

    /// <summary>
    /// Whether <paramref name="requester"/> may see a node in discovery: owners always, others when the access model
    /// would let them subscribe (§4.5; authorize counts, a request is how one gets in). Deleted or unknown: false.
    /// </summary>
    public async ValueTask<bool> IsVisibleAsync(string nodeId, Jid requester) =>
        _nodes.TryGetValue(nodeId, out var node) && !node.Deleted && await MayDiscoverAsync(node, requester).ConfigureAwait(false);

    /// <summary>The nodes <paramref name="requester"/> may see (<see cref="IsVisibleAsync"/>), by id.</summary>
    public async ValueTask<List<PubSubNode>> VisibleNodesAsync(Jid requester)
    {
        var list = new List<PubSubNode>();
        foreach (var node in _nodes.Values)
        {
            if (!node.Deleted && await MayDiscoverAsync(node, requester).ConfigureAwait(false)) list.Add(node);
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        return list;
    }

    private async ValueTask<bool> MayDiscoverAsync(PubSubNode node, Jid requester)
    {
        try
        {
            await CheckAccessAsync(node, requester, subscribing: true).ConfigureAwait(false);
            return true;
        }
        catch (PubSubException)
        {
            return false;
        }
    }

    private async ValueTask<XmlElement?> DiscoItemsAsync(string? nodeId, Jid from)
    {
        var query = new XmlElement("query", Ns.DiscoItems);
        if (nodeId is null)
        {
            foreach (var node in _nodes.Values.OrderBy(n => n.Id, StringComparer.Ordinal))
            {
                if (node.Deleted) continue;
                var item = query.AddElement("item").SetAttribute("jid", JidString).SetAttribute("node", node.Id);
                if (node.Config.Title.Length > 0) item.SetAttribute("name", node.Config.Title);
            }
            return query;
        }
        var n = RequireNode(nodeId);
        query.SetAttribute("node", nodeId);
        // §5.5: the item ids, for those who may retrieve them.
        await CheckAccessAsync(n, from, subscribing: false).ConfigureAwait(false);
        if (n.Config.PersistItems)
        {
            foreach (var record in (await Store.GetItemsAsync(JidString, nodeId, null).ConfigureAwait(false)).Items)
                query.AddElement("item").SetAttribute("jid", JidString).SetAttribute("name", record.ItemId);
        }
        return query;
    }
}

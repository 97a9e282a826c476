using System.Globalization;
using Tendril.Protocol;
using Tendril.Server.Features.Rsm;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>Subscriber use cases (XEP-0060 §5.6, §5.7, §6): subscribe, unsubscribe, options, retrieve items.</summary>
public sealed partial class PubSubService
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> s_noOptions = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>The 'jid' attribute of subscribe/unsubscribe/options: it must name the requester's bare or full JID (§6.1.3.1).</summary>
    private static Jid RequireOwnJid(XmlElement verb, Jid from)
    {
        if (!Jid.TryParse(verb.GetAttribute("jid"), out var jid)) throw PubSubErrors.InvalidJid();
        if (jid.Bare != from.Bare) throw PubSubErrors.InvalidJid();
        return jid;
    }

    private async ValueTask<XmlElement?> SubscribeIqAsync(XmlElement pubsub, XmlElement verb, Jid from, AfterReply after)
    {
        var nodeId = RequireNodeId(verb);
        var jid = RequireOwnJid(verb, from);
        IReadOnlyDictionary<string, IReadOnlyList<string>> options = s_noOptions;
        if (pubsub.Element("options", PubSubNs.PubSub) is { } optionsElement)
        {
            options = ParseSubscriptionOptions(optionsElement);
        }
        var subscription = await SubscribeAsync(nodeId, jid, from, options, send => after.Action = send).ConfigureAwait(false);
        var result = new XmlElement("pubsub", PubSubNs.PubSub);
        result.Add(SubscriptionElement(nodeId, subscription.Jid, subscription.SubId, subscription.State));
        return result;
    }

    /// <summary>
    /// Subscribes <paramref name="jid"/> (§6.1). A JID holds at most one subscription per node: subscribing again
    /// returns the existing one. Under the authorize model the subscription is pending and the owners are asked.
    /// </summary>
    public async ValueTask<PubSubSubscription> SubscribeAsync(string nodeId, Jid jid, Jid requester, IReadOnlyDictionary<string, IReadOnlyList<string>>? options = null, Action<Action>? deferLastItem = null)
    {
        PubSubSubscription subscription;
        PubSubNode node;
        var isNew = false;
        node = await LockNodeAsync(nodeId).ConfigureAwait(false);
        try
        {
            await CheckAccessAsync(node, requester, subscribing: true).ConfigureAwait(false);
            var existing = node.SubscriptionsOf(jid).FirstOrDefault();
            if (existing is not null)
            {
                if (existing.State == PubSubSubscriptionState.Pending) throw PubSubErrors.PendingSubscription();
                return existing;
            }
            var affiliation = node.AffiliationOf(requester);
            var pending = node.Config.AccessModel == AccessModel.Authorize && affiliation is not ("owner" or "publisher" or "member");
            subscription = new PubSubSubscription(jid, NewId(), pending ? PubSubSubscriptionState.Pending : PubSubSubscriptionState.Subscribed, options ?? s_noOptions);
            await Store.SetSubscriptionAsync(Record(nodeId, subscription)).ConfigureAwait(false);
            node.Subscriptions = node.Subscriptions.Add(subscription);
            isNew = true;
            if (pending)
            {
                foreach (var owner in node.Owners) await SendAuthorizationRequestAsync(node, subscription, owner).ConfigureAwait(false);
            }
            else if (node.Config.SendLastPublishedItem != SendLastPublished.Never && node.LastItem is { } last && subscription.Deliver)
            {
                // §6.1.7: the last published item right after subscribing, with a delay stamp (XEP-0203).
                var message = new SerializedStanza(Notifier.Message(Jid, ItemsEvent(node, [last]), last.Record.PublishedAt, node.Config.MessageType));
                void Send() => Notifier.DeliverTo(jid, message);
                if (deferLastItem is null) Send();
                else deferLastItem(Send);
            }
        }
        finally
        {
            node.Gate.Release();
        }
        if (isNew) IndexSubscriber(node, subscription.Jid);
        return subscription;
    }

    private async ValueTask<XmlElement?> UnsubscribeIqAsync(XmlElement verb, Jid from)
    {
        var nodeId = RequireNodeId(verb);
        if (!Jid.TryParse(verb.GetAttribute("jid"), out var jid)) throw PubSubErrors.InvalidJid();
        if (jid.Bare != from.Bare) throw PubSubErrors.Forbidden("You may only unsubscribe your own JID."); // §6.2.3.3
        var node = await LockNodeAsync(nodeId).ConfigureAwait(false);
        try
        {
            var subscription = FindSubscription(node, jid, verb.GetAttribute("subid"));
            await Store.RemoveSubscriptionAsync(JidString, nodeId, subscription.Jid.ToString(), subscription.SubId).ConfigureAwait(false);
            node.Subscriptions = node.Subscriptions.Remove(subscription);
        }
        finally
        {
            node.Gate.Release();
        }
        return null;
    }

    /// <summary>The subscription of <paramref name="jid"/> named by <paramref name="subId"/> (§6.2.3.1, §6.2.3.2, §6.2.3.5).</summary>
    private static PubSubSubscription FindSubscription(PubSubNode node, Jid jid, string? subId)
    {
        var mine = node.SubscriptionsOf(jid).ToList();
        if (mine.Count == 0) throw PubSubErrors.NotSubscribed();
        if (subId is null)
        {
            if (mine.Count > 1) throw PubSubErrors.SubIdRequired();
            return mine[0];
        }
        return mine.FirstOrDefault(s => s.SubId == subId) ?? throw PubSubErrors.InvalidSubId();
    }

    private async ValueTask<XmlElement?> OptionsGetAsync(XmlElement verb, Jid from)
    {
        var nodeId = RequireNodeId(verb);
        if (!Jid.TryParse(verb.GetAttribute("jid"), out var jid)) throw PubSubErrors.InvalidJid();
        if (jid.Bare != from.Bare) throw PubSubErrors.Forbidden("You may only see your own subscription options."); // §6.3.3.2
        var node = RequireNode(nodeId);
        var subscription = FindSubscription(node, jid, verb.GetAttribute("subid"));
        var result = new XmlElement("pubsub", PubSubNs.PubSub);
        var options = result.AddElement("options").SetAttribute("node", nodeId).SetAttribute("jid", jid.ToString()).SetAttribute("subid", subscription.SubId);
        options.Add(SubscriptionOptionsForm("form", subscription.Deliver));
        await ValueTask.CompletedTask.ConfigureAwait(false);
        return result;
    }

    private async ValueTask<XmlElement?> OptionsSetAsync(XmlElement verb, Jid from)
    {
        var nodeId = RequireNodeId(verb);
        if (!Jid.TryParse(verb.GetAttribute("jid"), out var jid)) throw PubSubErrors.InvalidJid();
        if (jid.Bare != from.Bare) throw PubSubErrors.Forbidden("You may only change your own subscription options.");
        var options = ParseSubscriptionOptions(verb);
        var node = await LockNodeAsync(nodeId).ConfigureAwait(false);
        try
        {
            var subscription = FindSubscription(node, jid, verb.GetAttribute("subid"));
            var updated = subscription with { Options = options };
            await Store.SetSubscriptionAsync(Record(nodeId, updated)).ConfigureAwait(false);
            node.Subscriptions = node.Subscriptions.Replace(subscription, updated);
        }
        finally
        {
            node.Gate.Release();
        }
        return null;
    }

    /// <summary>Reads a submitted subscribe_options form (§6.3.5): only pubsub#deliver is supported; anything else is invalid-options.</summary>
    private static Dictionary<string, IReadOnlyList<string>> ParseSubscriptionOptions(XmlElement optionsElement)
    {
        var x = DataForm.Find(optionsElement);
        if (x is null) return new Dictionary<string, IReadOnlyList<string>>();
        var fields = DataForm.ReadSubmit(x, PubSubNs.SubscribeOptions) ?? throw PubSubErrors.InvalidOptions("Expected a submitted pubsub#subscribe_options form.");
        foreach (var (var, values) in fields)
        {
            if (var != "pubsub#deliver" || values.Count != 1 || DataForm.ParseBool(values[0]) is null)
                throw PubSubErrors.InvalidOptions($"Unsupported subscription option '{var}'.");
        }
        return fields;
    }

    private static XmlElement SubscriptionOptionsForm(string type, bool deliver) =>
        DataForm.Build(type, PubSubNs.SubscribeOptions, [new("pubsub#deliver", "boolean", [deliver ? "1" : "0"], "Enable delivery?")]);

    /// <summary>§6.4: the default subscription options.</summary>
    private static XmlElement DefaultSubscriptionOptions()
    {
        var result = new XmlElement("pubsub", PubSubNs.PubSub);
        result.AddElement("default").Add(SubscriptionOptionsForm("form", true));
        return result;
    }

    // ---- items -----------------------------------------------------------------------------------------------------

    private async ValueTask<XmlElement?> ItemsIqAsync(XmlElement pubsub, XmlElement verb, Jid from)
    {
        var nodeId = RequireNodeId(verb);
        var node = RequireNode(nodeId);
        int? maxItems = null;
        if (verb.GetAttribute("max_items") is { } m)
        {
            if (!int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1) throw PubSubErrors.BadRequest("max_items must be a positive number.");
            maxItems = n;
        }
        if (verb.GetAttribute("subid") is { } subId && !node.Subscriptions.Any(s => s.SubId == subId && s.Jid.Bare == from.Bare))
        {
            throw PubSubErrors.InvalidSubId();
        }
        await CheckAccessAsync(node, from, subscribing: false).ConfigureAwait(false);
        if (!node.Config.PersistItems) throw PubSubErrors.Unsupported("persistent-items", "The node does not persist items.");

        var result = new XmlElement("pubsub", PubSubNs.PubSub);
        var items = result.AddElement("items").SetAttribute("node", nodeId);
        var ids = new List<string>();
        foreach (var item in verb.Elements("item", PubSubNs.PubSub))
        {
            if (item.GetAttribute("id") is { } id) ids.Add(id);
        }
        if (ids.Count > 0)
        {
            foreach (var record in await Store.GetItemsByIdAsync(JidString, nodeId, ids).ConfigureAwait(false)) items.Add(ItemElement(record, includePayload: true, node));
            return result;
        }
        var hasSet = pubsub.Element("set", PubSubNs.Rsm) is not null;
        if (!RsmRequest.TryParse(pubsub, out var rsm, out var rsmError)) throw new PubSubException(rsmError!);
        if (rsm.Index is not null) throw PubSubErrors.Unsupported("rsm", "RSM <index/> is not supported; page with <after/> and <before/>.");
        int? max = rsm.Max is { } asked ? (maxItems is { } cap ? Math.Min(cap, asked) : asked) : maxItems;
        var page = await Store.GetItemsAsync(JidString, nodeId, max, rsm.After, rsm.Before).ConfigureAwait(false);
        if ((rsm.After is not null || rsm.Before is { Length: > 0 }) && page.Items.Count == 0)
        {
            // XEP-0059 §2.4: a page relative to an item the set does not hold is item-not-found. (An empty page after
            // a known item is only the end of the set.)
            var reference = rsm.After ?? rsm.Before!;
            if ((await Store.GetItemsByIdAsync(JidString, nodeId, [reference]).ConfigureAwait(false)).Count == 0)
                throw PubSubErrors.ItemNotFound($"No item '{reference}' to page from.");
        }
        foreach (var record in page.Items) items.Add(ItemElement(record, includePayload: true, node));
        if (hasSet)
        {
            RsmResult.Write(result, page.Items.Count > 0 ? page.Items[0].ItemId : null, page.Items.Count > 0 ? page.Items[^1].ItemId : null,
                page.Count, rsm.FirstIndex());
        }
        return result;
    }

    /// <summary>Items for a program (the HTTP API), with the same access checks as §6.5. Newest first.</summary>
    internal async ValueTask<(PubSubNode Node, IReadOnlyList<PubSubItemRecord> Items)> GetItemsAsync(string nodeId, Jid requester, int? max)
    {
        await EnsureLoadedAsync().ConfigureAwait(false);
        var node = RequireNode(nodeId);
        await CheckAccessAsync(node, requester, subscribing: false).ConfigureAwait(false);
        if (!node.Config.PersistItems) return (node, node.LastItem is { } last ? [last.Record] : []);
        return (node, (await Store.GetItemsAsync(JidString, nodeId, max).ConfigureAwait(false)).Items);
    }

    internal static XmlElement ItemElement(PubSubItemRecord record, bool includePayload, PubSubNode node)
    {
        var item = new XmlElement("item", PubSubNs.PubSub).SetAttribute("id", record.ItemId);
        if (PublisherOf(node, record) is { } publisher) item.SetAttribute("publisher", publisher);
        if (includePayload && record.Payload.Length > 0) item.Add(PayloadXml.Parse(record.Payload));
        return item;
    }

    // ---- own subscriptions and affiliations (§5.6, §5.7) ----------------------------------------------------------

    private XmlElement OwnSubscriptions(XmlElement verb, Jid from)
    {
        var filter = verb.GetAttribute("node");
        if (filter is not null) RequireNode(filter);
        var result = new XmlElement("pubsub", PubSubNs.PubSub);
        var list = result.AddElement("subscriptions");
        if (filter is not null) list.SetAttribute("node", filter);
        foreach (var node in _nodes.Values)
        {
            if (node.Deleted || (filter is not null && node.Id != filter)) continue;
            foreach (var s in node.Subscriptions)
            {
                if (s.Jid.Bare == from.Bare) list.Add(SubscriptionElement(node.Id, s.Jid, s.SubId, s.State));
            }
        }
        return result;
    }

    private XmlElement OwnAffiliations(XmlElement verb, Jid from)
    {
        var filter = verb.GetAttribute("node");
        if (filter is not null) RequireNode(filter);
        var result = new XmlElement("pubsub", PubSubNs.PubSub);
        var list = result.AddElement("affiliations");
        if (filter is not null) list.SetAttribute("node", filter);
        var bare = from.Bare.ToString();
        foreach (var node in _nodes.Values)
        {
            if (node.Deleted || (filter is not null && node.Id != filter)) continue;
            if (node.Affiliations.TryGetValue(bare, out var a)) list.AddElement("affiliation").SetAttribute("node", node.Id).SetAttribute("affiliation", a);
        }
        return result;
    }

    internal static XmlElement SubscriptionElement(string nodeId, Jid jid, string subId, PubSubSubscriptionState state, string ns = PubSubNs.PubSub)
    {
        var e = new XmlElement("subscription", ns).SetAttribute("node", nodeId).SetAttribute("jid", jid.ToString()).SetAttribute("subscription", StateName(state));
        if (state != PubSubSubscriptionState.Pending || ns != PubSubNs.Event) e.SetAttribute("subid", subId);
        return e;
    }

    internal static string StateName(PubSubSubscriptionState state) => state switch
    {
        PubSubSubscriptionState.Pending => "pending",
        PubSubSubscriptionState.Unconfigured => "unconfigured",
        _ => "subscribed",
    };

    private PubSubSubscriptionRecord Record(string nodeId, PubSubSubscription s) =>
        new(JidString, nodeId, s.Jid.ToString(), s.SubId, s.State, s.Options);
}

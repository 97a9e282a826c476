using System.Text;
using Tendril.Protocol;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>Publisher use cases (XEP-0060 §7): publish (with publish-options preconditions) and retract.</summary>
public sealed partial class PubSubService
{
    private async ValueTask<XmlElement?> PublishIqAsync(XmlElement pubsub, XmlElement verb, Jid from)
    {
        var nodeId = RequireNodeId(verb);
        var items = verb.Elements("item", PubSubNs.PubSub).GetEnumerator();
        XmlElement? item = null;
        if (items.MoveNext())
        {
            item = items.Current;
            if (items.MoveNext()) throw PubSubErrors.InvalidPayload("Publish one item at a time."); // §7.1.3.5
        }
        XmlElement? payload = null;
        if (item is not null)
        {
            if (item.ElementCount > 1) throw PubSubErrors.InvalidPayload("An item holds exactly one payload element."); // §7.1.3.5
            payload = item.FirstElement();
        }
        IReadOnlyDictionary<string, IReadOnlyList<string>>? preconditions = null;
        if (pubsub.Element("publish-options", PubSubNs.PubSub) is { } po && DataForm.Find(po) is { } form)
        {
            preconditions = DataForm.ReadSubmit(form, PubSubNs.PublishOptions) ?? throw PubSubErrors.BadRequest("Expected a submitted pubsub#publish-options form.");
        }
        var id = await PublishAsync(nodeId, from, item is null ? null : item.GetAttribute("id") ?? "", payload, preconditions, itemPresent: item is not null).ConfigureAwait(false);
        var result = new XmlElement("pubsub", PubSubNs.PubSub);
        result.AddElement("publish").SetAttribute("node", nodeId).AddElement("item").SetAttribute("id", id);
        return result;
    }

    /// <summary>
    /// Publishes an item (§7.1) and notifies the subscribers; returns the item id (server-generated when
    /// <paramref name="itemId"/> is null or empty). The item is stored before anyone is notified; notifications go out
    /// under the node's gate, so every subscriber sees a node's items in the same order.
    /// </summary>
    public async ValueTask<string> PublishAsync(string nodeId, Jid publisher, string? itemId, XmlElement? payload,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? preconditions = null, bool itemPresent = true)
    {
        await EnsureLoadedAsync().ConfigureAwait(false);
        string? serialized = payload is null ? "" : PayloadXml.Serialize(payload);
        if (Encoding.UTF8.GetByteCount(serialized) > Policy.MaxPayloadBytes) throw PubSubErrors.PayloadTooBig();
        if (Policy.AutoCreateOnPublish && (!_nodes.TryGetValue(nodeId, out var existing) || existing.Deleted))
        {
            if (!Policy.MayCreateNodes(publisher)) throw PubSubErrors.ItemNotFound($"No node '{nodeId}'.");
            try
            {
                await CreateNodeAsync(nodeId, publisher, preconditions).ConfigureAwait(false);
            }
            catch (PubSubException e) when (e.Error.Condition == Tendril.Protocol.Errors.StanzaErrorCondition.Conflict)
            {
                // created concurrently: publish to it
            }
        }
        var node = await LockNodeAsync(nodeId).ConfigureAwait(false);
        XmlElement? changed = null;
        try
        {
            CheckPublisher(node, publisher);
            if (preconditions is not null)
            {
                foreach (var (var, values) in preconditions)
                {
                    // §7.1.5: each field must equal the node's configuration; an unknown field cannot be met either.
                    // "max" means the service's limit; booleans compare by value ("true" = "1", XEP-0223 clients send "true").
                    IReadOnlyList<string> wanted = var == "pubsub#max_items" && values is ["max"] ? [Policy.MaxItemsLimit.ToString(System.Globalization.CultureInfo.InvariantCulture)]
                        : values is [var single] && DataForm.ParseBool(single) is { } b && node.Config.Values(var) is [var current] && DataForm.ParseBool(current) is not null ? [b ? "1" : "0"]
                        : values;
                    if (!NodeConfig.Fields.Contains(var) || !node.Config.Values(var).SequenceEqual(wanted))
                        throw PubSubErrors.PreconditionNotMet($"The node's {var} does not match.");
                }
            }
            var config = node.Config;
            // §7.1.3.6: what the node's configuration requires of the request.
            if (!itemPresent && config.PersistItems) throw PubSubErrors.ItemRequired();
            if (payload is null && config.DeliverPayloads) throw PubSubErrors.PayloadRequired();
            if (itemPresent && !config.PersistItems && !config.DeliverPayloads && payload is not null) throw PubSubErrors.ItemForbidden();

            var id = string.IsNullOrEmpty(itemId) ? NewId() : itemId;
            var record = new PubSubItemRecord(JidString, nodeId, id, publisher.ToString(), serialized, Time.GetUtcNow());
            if (config.PersistItems) await Store.PublishItemAsync(record, config.MaxItems).ConfigureAwait(false);
            var item = new PubSubItem(record, payload);
            node.LastItem = item;
            var content = ItemsEvent(node, [item]);
            Notifier.Broadcast(Jid, node, content);
            if (Policy.ImplicitDelivery is { } implicitDelivery) await implicitDelivery(this, node, content).ConfigureAwait(false);
            changed = content;
            return id;
        }
        finally
        {
            node.Gate.Release();
            if (changed is not null && Policy.Changed is { } onChanged) await onChanged(this, nodeId, changed).ConfigureAwait(false);
        }
    }

    /// <summary>publish_model (§4.5 and §7.1.3.1): who may publish.</summary>
    private static void CheckPublisher(PubSubNode node, Jid publisher)
    {
        var affiliation = node.AffiliationOf(publisher);
        if (affiliation is "owner" or "publisher" or "publish-only") return;
        if (affiliation == "outcast") throw PubSubErrors.Forbidden("You are blocked from this node.");
        switch (node.Config.PublishModel)
        {
            case PublishModel.Open:
                return;
            case PublishModel.Subscribers when node.HasActiveSubscription(publisher):
                return;
            default:
                throw PubSubErrors.Forbidden("You may not publish to this node.");
        }
    }

    /// <summary>&lt;items node&gt; with the item(s) for a notification (payload unless deliver_payloads is off).</summary>
    internal static XmlElement ItemsEvent(PubSubNode node, IEnumerable<PubSubItem> items)
    {
        var e = new XmlElement("items", PubSubNs.Event).SetAttribute("node", node.Id);
        var payloads = node.Config.DeliverPayloads;
        foreach (var item in items)
        {
            var i = e.AddElement("item").SetAttribute("id", item.Id);
            if (PublisherOf(node, item.Record) is { } publisher) i.SetAttribute("publisher", publisher);
            if (payloads && item.Payload is { } p) i.Add(p);
        }
        return e;
    }

    /// <summary>
    /// The 'publisher' an item carries (XEP-0060 §7.1.2.1 lets the service say who published it), as pubsub#itemreply
    /// asks: the item's publisher (bare JID), the node's owner, or nobody (the default).
    /// </summary>
    internal static string? PublisherOf(PubSubNode node, PubSubItemRecord record) => node.Config.ItemReply switch
    {
        ItemReply.Publisher => Jid.TryParse(record.Publisher, out var p) && p is not null ? p.Bare.ToString() : record.Publisher,
        ItemReply.Owner => node.Owners.FirstOrDefault()?.ToString(),
        _ => null,
    };

    private async ValueTask<XmlElement?> RetractIqAsync(XmlElement verb, Jid from)
    {
        var nodeId = RequireNodeId(verb);
        var ids = new List<string>();
        foreach (var item in verb.Elements("item", PubSubNs.PubSub))
        {
            if (item.GetAttribute("id") is { Length: > 0 } id) ids.Add(id);
        }
        if (ids.Count == 0) throw PubSubErrors.ItemRequired(); // §7.2.3.3
        var notify = DataForm.ParseBool(verb.GetAttribute("notify")) ?? false;
        await RetractAsync(nodeId, from, ids[0], notify).ConfigureAwait(false);
        return null;
    }

    /// <summary>Deletes an item (§7.2): owners and publishers any item, publish-only entities their own.</summary>
    public async ValueTask RetractAsync(string nodeId, Jid requester, string itemId, bool notify)
    {
        await EnsureLoadedAsync().ConfigureAwait(false);
        var node = await LockNodeAsync(nodeId).ConfigureAwait(false);
        var retracted = false;
        try
        {
            var affiliation = node.AffiliationOf(requester);
            if (!node.Config.PersistItems) throw PubSubErrors.Unsupported("persistent-items", "The node does not persist items."); // §7.2.3.5
            if (affiliation is not ("owner" or "publisher" or "publish-only")) throw PubSubErrors.Forbidden("You may not retract items from this node.");
            if (affiliation == "publish-only")
            {
                var mine = await Store.GetItemsByIdAsync(JidString, nodeId, [itemId]).ConfigureAwait(false);
                if (mine.Count == 1 && Jid.TryParse(mine[0].Publisher, out var p) && p.Bare != requester.Bare)
                    throw PubSubErrors.Forbidden("A publish-only entity may retract only its own items.");
            }
            if (!await Store.RetractItemAsync(JidString, nodeId, itemId).ConfigureAwait(false)) throw PubSubErrors.ItemNotFound($"No item '{itemId}'.");
            if (node.LastItem?.Id == itemId)
            {
                var newest = await Store.GetItemsAsync(JidString, nodeId, 1).ConfigureAwait(false);
                node.LastItem = newest.Items.Count > 0 ? new PubSubItem(newest.Items[0], null) : null;
            }
            if (notify || node.Config.NotifyRetract)
            {
                var e = new XmlElement("items", PubSubNs.Event).SetAttribute("node", nodeId);
                e.AddElement("retract").SetAttribute("id", itemId);
                Notifier.Broadcast(Jid, node, e);
                if (Policy.ImplicitDelivery is { } implicitDelivery) await implicitDelivery(this, node, e).ConfigureAwait(false);
            }
            retracted = true;
        }
        finally
        {
            node.Gate.Release();
        }
        if (retracted && Policy.Changed is { } onChanged)
        {
            var change = new XmlElement("items", PubSubNs.Event).SetAttribute("node", nodeId);
            change.AddElement("retract").SetAttribute("id", itemId);
            await onChanged(this, nodeId, change).ConfigureAwait(false);
        }
    }
}

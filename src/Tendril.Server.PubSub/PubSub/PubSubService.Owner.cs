using System.Collections.Immutable;
using Tendril.Protocol;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>
/// Owner use cases (XEP-0060 §8): create (named and instant, with a configuration), configure, default options,
/// delete (with redirect), purge, subscription approval (authorize model), manage subscriptions and affiliations.
/// </summary>
public sealed partial class PubSubService
{
    private static readonly HashSet<string> s_affiliations = new(StringComparer.Ordinal) { "owner", "publisher", "publish-only", "member", "outcast", "none" };

    private async ValueTask<XmlElement?> CreateAsync(XmlElement pubsub, XmlElement verb, Jid from)
    {
        IReadOnlyDictionary<string, IReadOnlyList<string>>? fields = null;
        if (pubsub.Element("configure", PubSubNs.PubSub) is { } configure && DataForm.Find(configure) is { } form)
        {
            fields = DataForm.ReadSubmit(form, PubSubNs.NodeConfig) ?? throw PubSubErrors.BadRequest("Expected a submitted pubsub#node_config form.");
        }
        var requested = verb.GetAttribute("node");
        var id = await CreateNodeAsync(string.IsNullOrEmpty(requested) ? null : requested, from, fields).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(requested)) return null;
        // §8.1.2: an instant node's id is returned.
        var result = new XmlElement("pubsub", PubSubNs.PubSub);
        result.AddElement("create").SetAttribute("node", id);
        return result;
    }

    /// <summary>Creates a node (§8.1); null id = instant node. Returns the node id.</summary>
    public async ValueTask<string> CreateNodeAsync(string? nodeId, Jid creator, IReadOnlyDictionary<string, IReadOnlyList<string>>? config = null)
    {
        await EnsureLoadedAsync().ConfigureAwait(false);
        if (!Policy.MayCreateNodes(creator)) throw PubSubErrors.Forbidden("You may not create nodes on this service."); // §8.1.3.2
        var nodeConfig = config is null ? Policy.DefaultConfig : Policy.DefaultConfig.Apply(config, Policy.MaxItemsLimit);
        await _createGate.WaitAsync().ConfigureAwait(false);
        try
        {
            var id = nodeId ?? NewId();
            if (_nodes.ContainsKey(id)) throw PubSubErrors.Conflict($"The node '{id}' exists."); // §8.1.3.4
            var owner = creator.Bare.ToString();
            if (Policy.MaxNodesPerOwner > 0 && CountOwned(owner) >= Policy.MaxNodesPerOwner)
            {
                // XEP-0060 §8.1.3: the service's limit on nodes per entity.
                throw PubSubErrors.Of(Tendril.Protocol.Errors.StanzaErrorCondition.NotAllowed, "max-nodes-exceeded", $"At most {Policy.MaxNodesPerOwner} nodes per account.");
            }
            var record = new PubSubNodeRecord(JidString, id, nodeConfig.ToMap(), owner, Time.GetUtcNow());
            if (!await Store.CreateNodeAsync(record).ConfigureAwait(false)) throw PubSubErrors.Conflict($"The node '{id}' exists.");
            var node = new PubSubNode(id, nodeConfig, owner, record.CreatedAt)
            {
                Affiliations = ImmutableDictionary.Create<string, string>(StringComparer.Ordinal).Add(owner, "owner"),
            };
            _nodes[id] = node;
            return id;
        }
        finally
        {
            _createGate.Release();
        }
    }

    private int CountOwned(string owner)
    {
        var n = 0;
        foreach (var node in _nodes.Values)
        {
            if (!node.Deleted && node.Creator == owner) n++;
        }
        return n;
    }

    private async ValueTask<XmlElement?> ConfigureGetAsync(XmlElement verb, Jid from)
    {
        var node = RequireNode(RequireNodeId(verb));
        RequireOwner(node, from);
        var result = new XmlElement("pubsub", PubSubNs.Owner);
        result.AddElement("configure").SetAttribute("node", node.Id).Add(node.Config.ToForm());
        await ValueTask.CompletedTask.ConfigureAwait(false);
        return result;
    }

    private async ValueTask<XmlElement?> ConfigureSetAsync(XmlElement verb, Jid from)
    {
        var nodeId = RequireNodeId(verb);
        var form = DataForm.Find(verb) ?? throw PubSubErrors.BadRequest("A configuration form is required.");
        if (form.GetAttribute("type") == "cancel")
        {
            RequireOwner(RequireNode(nodeId), from); // §8.2.6: cancelling changes nothing
            return null;
        }
        var fields = DataForm.ReadSubmit(form, PubSubNs.NodeConfig) ?? throw PubSubErrors.BadRequest("Expected a submitted pubsub#node_config form.");
        var node = await LockNodeAsync(nodeId).ConfigureAwait(false);
        try
        {
            RequireOwner(node, from);
            var config = node.Config.Apply(fields, Policy.MaxItemsLimit);
            if (!await Store.UpdateNodeConfigAsync(JidString, nodeId, config.ToMap()).ConfigureAwait(false)) throw PubSubErrors.ItemNotFound();
            node.Config = config;
        }
        finally
        {
            node.Gate.Release();
        }
        return null;
    }

    /// <summary>§8.3: the default node configuration.</summary>
    private XmlElement DefaultConfig()
    {
        var result = new XmlElement("pubsub", PubSubNs.Owner);
        result.AddElement("default").Add(Policy.DefaultConfig.ToForm());
        return result;
    }

    private async ValueTask<XmlElement?> DeleteIqAsync(XmlElement verb, Jid from)
    {
        var nodeId = RequireNodeId(verb);
        var redirect = verb.Element("redirect", PubSubNs.Owner)?.GetAttribute("uri");
        await DeleteNodeAsync(nodeId, from, redirect).ConfigureAwait(false);
        return null;
    }

    /// <summary>Deletes a node (§8.4), telling subscribers (with the redirect URI when given) if notify_delete is on.</summary>
    public async ValueTask DeleteNodeAsync(string nodeId, Jid requester, string? redirectUri = null)
    {
        await EnsureLoadedAsync().ConfigureAwait(false);
        var node = await LockNodeAsync(nodeId).ConfigureAwait(false);
        try
        {
            RequireOwner(node, requester);
            await Store.DeleteNodeAsync(JidString, nodeId).ConfigureAwait(false);
            node.Deleted = true;
            _nodes.TryRemove(new KeyValuePair<string, PubSubNode>(nodeId, node));
            if (node.Config.NotifyDelete)
            {
                var e = new XmlElement("delete", PubSubNs.Event).SetAttribute("node", nodeId);
                if (redirectUri is not null) e.AddElement("redirect").SetAttribute("uri", redirectUri);
                Notifier.Broadcast(Jid, node, e);
                // PEP: contacts with +notify hear of it like of the items (XEP-0163 §4.3 implicit subscription).
                if (Policy.ImplicitDelivery is { } implicitDelivery) await implicitDelivery(this, node, e).ConfigureAwait(false);
            }
        }
        finally
        {
            node.Gate.Release();
        }
    }

    private async ValueTask<XmlElement?> PurgeIqAsync(XmlElement verb, Jid from)
    {
        var node = await LockNodeAsync(RequireNodeId(verb)).ConfigureAwait(false);
        try
        {
            RequireOwner(node, from);
            if (!node.Config.PersistItems) throw PubSubErrors.Unsupported("persistent-items", "The node does not persist items."); // §8.5.3.3
            await Store.PurgeItemsAsync(JidString, node.Id).ConfigureAwait(false);
            node.LastItem = null;
            // §8.5.2: subscribers learn about the purge (tied to notify_retract, like item removal).
            if (node.Config.NotifyRetract)
            {
                var e = new XmlElement("purge", PubSubNs.Event).SetAttribute("node", node.Id);
                Notifier.Broadcast(Jid, node, e);
                if (Policy.ImplicitDelivery is { } implicitDelivery) await implicitDelivery(this, node, e).ConfigureAwait(false);
            }
        }
        finally
        {
            node.Gate.Release();
        }
        return null;
    }

    // ---- subscription approval (§8.6) ------------------------------------------------------------------------------

    private ValueTask SendAuthorizationRequestAsync(PubSubNode node, PubSubSubscription subscription, Jid owner)
    {
        var message = new XmlElement("message", Ns.Client).SetAttribute("from", JidString).SetAttribute("id", NewId());
        var form = DataForm.Build("form", PubSubNs.SubscribeAuthorization,
        [
            new("pubsub#subid", "hidden", [subscription.SubId]),
            new("pubsub#node", "text-single", [node.Id], "Node ID"),
            new("pubsub#subscriber_jid", "jid-single", [subscription.Jid.ToString()], "Subscriber Address"),
            new("pubsub#allow", "boolean", ["false"], "Allow this JID to subscribe to this pubsub node?"),
        ], "PubSub subscriber request", "To approve this entity's subscription request, set pubsub#allow to true and submit.");
        message.Add(form);
        return Notifier.SendAsync(message, Jid, owner);
    }

    /// <summary>An owner's answer to a subscription request (§8.6.2): a submitted subscribe_authorization form in a message.</summary>
    private async ValueTask HandleAuthorizationAnswerAsync(XmlElement message, Jid from)
    {
        var fields = DataForm.ReadSubmit(DataForm.Find(message), PubSubNs.SubscribeAuthorization);
        if (fields is null) return;
        string? Field(string var) => fields.TryGetValue(var, out var v) && v.Count > 0 ? v[0] : null;
        var nodeId = Field("pubsub#node");
        if (nodeId is null || !Jid.TryParse(Field("pubsub#subscriber_jid"), out var subscriber)) return;
        var allow = DataForm.ParseBool(Field("pubsub#allow")) ?? false;
        try
        {
            await DecideSubscriptionAsync(nodeId, from, subscriber, Field("pubsub#subid"), allow ? PubSubSubscriptionState.Subscribed : null).ConfigureAwait(false);
        }
        catch (PubSubException e)
        {
            _server().Router.BounceError(message, e.Error);
        }
    }

    /// <summary>Sets (or with null removes) a subscription as the owner decides, notifying the subscriber (§8.6.2, §8.8.2).</summary>
    private async ValueTask DecideSubscriptionAsync(string nodeId, Jid owner, Jid subscriber, string? subId, PubSubSubscriptionState? state)
    {
        PubSubSubscription? added = null;
        var node = await LockNodeAsync(nodeId).ConfigureAwait(false);
        try
        {
            RequireOwner(node, owner);
            var existing = node.SubscriptionsOf(subscriber).FirstOrDefault(s => subId is null || s.SubId == subId);
            if (state is null)
            {
                if (existing is null) return;
                await Store.RemoveSubscriptionAsync(JidString, nodeId, existing.Jid.ToString(), existing.SubId).ConfigureAwait(false);
                node.Subscriptions = node.Subscriptions.Remove(existing);
            }
            else
            {
                var updated = existing is null
                    ? new PubSubSubscription(subscriber, subId ?? NewId(), state.Value, s_noOptions)
                    : existing with { State = state.Value };
                await Store.SetSubscriptionAsync(Record(nodeId, updated)).ConfigureAwait(false);
                node.Subscriptions = existing is null ? node.Subscriptions.Add(updated) : node.Subscriptions.Replace(existing, updated);
                added = updated;
            }
            // The subscriber learns the new state (§8.6.2: subscription-notifications).
            var e = SubscriptionElement(nodeId, subscriber, (added ?? existing)!.SubId, state ?? PubSubSubscriptionState.Subscribed, PubSubNs.Event);
            if (state is null) e.SetAttribute("subscription", "none");
            var message = Notifier.Message(Jid, e);
            await Notifier.SendAsync(message, Jid, subscriber).ConfigureAwait(false);
        }
        finally
        {
            node.Gate.Release();
        }
        if (added is { IsActive: true }) IndexSubscriber(node, added.Jid);
    }

    // ---- manage subscriptions (§8.8) and affiliations (§8.9) -------------------------------------------------------

    private XmlElement NodeSubscriptions(XmlElement verb, Jid from)
    {
        var node = RequireNode(RequireNodeId(verb));
        RequireOwner(node, from);
        var result = new XmlElement("pubsub", PubSubNs.Owner);
        var list = result.AddElement("subscriptions").SetAttribute("node", node.Id);
        foreach (var s in node.Subscriptions) list.Add(SubscriptionElement(node.Id, s.Jid, s.SubId, s.State, PubSubNs.Owner).RemoveAttribute("node"));
        return result;
    }

    private async ValueTask<XmlElement?> SetSubscriptionsAsync(XmlElement verb, Jid from)
    {
        var nodeId = RequireNodeId(verb);
        RequireOwner(RequireNode(nodeId), from);
        var changes = new List<(Jid Jid, string? SubId, PubSubSubscriptionState? State)>();
        foreach (var e in verb.Elements("subscription", PubSubNs.Owner))
        {
            if (!Jid.TryParse(e.GetAttribute("jid"), out var jid)) throw PubSubErrors.InvalidJid();
            PubSubSubscriptionState? state = e.GetAttribute("subscription") switch
            {
                "subscribed" => PubSubSubscriptionState.Subscribed,
                "pending" => PubSubSubscriptionState.Pending,
                "unconfigured" => PubSubSubscriptionState.Unconfigured,
                "none" => null,
                _ => throw PubSubErrors.BadRequest("subscription must be subscribed, pending, unconfigured or none."),
            };
            changes.Add((jid, e.GetAttribute("subid"), state));
        }
        foreach (var (jid, subId, state) in changes) await DecideSubscriptionAsync(nodeId, from, jid, subId, state).ConfigureAwait(false);
        return null;
    }

    private XmlElement NodeAffiliations(XmlElement verb, Jid from)
    {
        var node = RequireNode(RequireNodeId(verb));
        RequireOwner(node, from);
        var result = new XmlElement("pubsub", PubSubNs.Owner);
        var list = result.AddElement("affiliations").SetAttribute("node", node.Id);
        foreach (var (jid, a) in node.Affiliations.OrderBy(p => p.Key, StringComparer.Ordinal)) list.AddElement("affiliation").SetAttribute("jid", jid).SetAttribute("affiliation", a);
        return result;
    }

    private async ValueTask<XmlElement?> SetAffiliationsAsync(XmlElement verb, Jid from)
    {
        var nodeId = RequireNodeId(verb);
        var changes = new List<(string Jid, string Affiliation)>();
        foreach (var e in verb.Elements("affiliation", PubSubNs.Owner))
        {
            if (!Jid.TryParse(e.GetAttribute("jid"), out var jid)) throw PubSubErrors.InvalidJid();
            var a = e.GetAttribute("affiliation");
            if (a is null || !s_affiliations.Contains(a)) throw PubSubErrors.BadRequest($"Unknown affiliation '{a}'.");
            changes.Add((jid.Bare.ToString(), a));
        }
        await SetAffiliationsAsync(nodeId, from, changes).ConfigureAwait(false);
        return null;
    }

    /// <summary>Changes affiliations (§8.9.2); the node keeps at least one owner (not-acceptable otherwise).</summary>
    public async ValueTask SetAffiliationsAsync(string nodeId, Jid owner, IReadOnlyList<(string Jid, string Affiliation)> changes)
    {
        await EnsureLoadedAsync().ConfigureAwait(false);
        var node = await LockNodeAsync(nodeId).ConfigureAwait(false);
        try
        {
            RequireOwner(node, owner);
            var affiliations = node.Affiliations;
            foreach (var (jid, a) in changes) affiliations = a == "none" ? affiliations.Remove(jid) : affiliations.SetItem(jid, a);
            if (!affiliations.Values.Contains("owner")) throw PubSubErrors.NotAcceptable("A node needs at least one owner.");
            foreach (var (jid, a) in changes) await Store.SetAffiliationAsync(JidString, nodeId, jid, a).ConfigureAwait(false);
            node.Affiliations = affiliations;
            // An outcast loses its subscriptions (§4.1: outcasts may not subscribe).
            foreach (var (jid, a) in changes)
            {
                if (a != "outcast") continue;
                foreach (var s in node.Subscriptions.Where(s => s.Jid.Bare.ToString() == jid).ToList())
                {
                    await Store.RemoveSubscriptionAsync(JidString, nodeId, s.Jid.ToString(), s.SubId).ConfigureAwait(false);
                    node.Subscriptions = node.Subscriptions.Remove(s);
                }
            }
        }
        finally
        {
            node.Gate.Release();
        }
    }
}

using Tendril.Protocol;
using Tendril.Server.Features.Pep;
using Tendril.Server.Features.PubSub;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Conversion;

/// <summary>
/// Bookmark compatibility (XEP-0402 §5): XEP-0048 bookmarks in private XML storage (XEP-0049,
/// <c>&lt;storage xmlns='storage:bookmarks'/&gt;</c>) and PEP native bookmarks (<c>urn:xmpp:bookmarks:1</c>) kept in
/// step. A private-storage set publishes every conference as an item (id = room JID, <c>&lt;conference name autojoin&gt;
/// &lt;nick/&gt;&lt;password/&gt;&lt;/conference&gt;</c>) and retracts the items that vanished; a publish or retract
/// on the PEP node rewrites the private-storage copy (keeping its XEP-0048 URL bookmarks). A node the server creates
/// gets the XEP-0402 configuration (persistent, max items, whitelist, last item never sent). A synchronisation never
/// triggers the reverse one. Advertises <c>urn:xmpp:bookmarks:1#compat</c> on the account.
/// </summary>
public sealed class BookmarkSyncFeature : IServerFeature, IPepObserver, IPrivateStorageObserver
{
    public const string Node = "urn:xmpp:bookmarks:1";
    public const string CompatFeature = Node + "#compat";
    public const string LegacyNamespace = "storage:bookmarks";

    private static readonly AsyncLocal<bool> s_syncing = new();
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> s_nodeConfig = new Dictionary<string, IReadOnlyList<string>>
    {
        ["pubsub#persist_items"] = ["true"],
        ["pubsub#max_items"] = ["max"],
        ["pubsub#send_last_published_item"] = ["never"],
        ["pubsub#access_model"] = ["whitelist"],
    };

    private XmppServer _server = null!;

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        registry.AddDiscoFeature(CompatFeature, IqTarget.Account);
    }

    private PepFeature? Pep => _server.ServerFeatures.OfType<PepFeature>().FirstOrDefault();

    /// <summary>XEP-0048 → XEP-0402.</summary>
    public async ValueTask OnPrivateSetAsync(Jid user, XmlElement element)
    {
        if (s_syncing.Value || element.Name != "storage" || element.Namespace != LegacyNamespace || Pep is not { } pep) return;
        var owner = user.Bare;
        s_syncing.Value = true;
        try
        {
            var service = pep.ServiceFor(owner);
            await service.EnsureLoadedAsync().ConfigureAwait(false);
            var wanted = new Dictionary<string, XmlElement>(StringComparer.Ordinal);
            foreach (var conference in element.Elements("conference", LegacyNamespace))
            {
                if (!Jid.TryParse(conference.GetAttribute("jid") ?? "", out var room)) continue;
                var c = new XmlElement("conference", Node);
                if (conference.GetAttribute("name") is { } name) c.SetAttribute("name", name);
                if (DataForm.ParseBool(conference.GetAttribute("autojoin")) == true) c.SetAttribute("autojoin", "true");
                if (conference.Element("nick", LegacyNamespace)?.Text is { Length: > 0 } nick) c.AddElement("nick").Add(nick);
                if (conference.Element("password", LegacyNamespace)?.Text is { Length: > 0 } password) c.AddElement("password").Add(password);
                wanted[room.ToString()] = c;
            }
            var exists = service.TryGetNode(Node, out var node) && !node.Deleted;
            var existing = exists ? (await service.Store.GetItemsAsync(owner.ToString(), Node, null).ConfigureAwait(false)).Items : [];
            foreach (var (id, payload) in wanted)
            {
                var same = false;
                foreach (var item in existing)
                {
                    if (item.ItemId == id && item.Payload == PayloadXml.Serialize(payload)) same = true;
                }
                if (same) continue;
                await service.PublishAsync(Node, owner, id, payload, exists ? null : s_nodeConfig).ConfigureAwait(false);
                exists = true;
            }
            foreach (var item in existing)
            {
                if (!wanted.ContainsKey(item.ItemId)) await service.RetractAsync(Node, owner, item.ItemId, notify: true).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is StorageException or PubSubException)
        {
        }
        finally
        {
            s_syncing.Value = false;
        }
    }

    /// <summary>XEP-0402 → XEP-0048.</summary>
    public async ValueTask OnPepChangedAsync(Jid owner, string nodeId, XmlElement change)
    {
        if (s_syncing.Value || nodeId != Node || Pep is not { } pep) return;
        owner = owner.Bare;
        s_syncing.Value = true;
        try
        {
            var service = pep.ServiceFor(owner);
            var items = (await service.Store.GetItemsAsync(owner.ToString(), Node, null).ConfigureAwait(false)).Items;
            var storage = new XmlElement("storage", LegacyNamespace);
            var data = _server.Storage.AccountData;
            var stored = await data.GetAsync(owner.Domain, owner.Local!, AccountStores.PrivateXml, LegacyNamespace).ConfigureAwait(false);
            if (stored is not null && StoredStanza.Parse(stored) is { } old)
            {
                foreach (var url in old.Elements("url")) storage.Add(url);
            }
            for (var i = items.Count - 1; i >= 0; i--) // oldest first
            {
                var item = items[i];
                if (item.Payload.Length == 0) continue;
                XmlElement payload;
                try
                {
                    payload = PayloadXml.Parse(item.Payload);
                }
                catch (XmlParseException)
                {
                    continue;
                }
                if (payload.Name != "conference" || payload.Namespace != Node) continue;
                var c = new XmlElement("conference", LegacyNamespace).SetAttribute("jid", item.ItemId);
                c.SetAttribute("autojoin", DataForm.ParseBool(payload.GetAttribute("autojoin")) == true ? "true" : "false");
                if (payload.GetAttribute("name") is { } name) c.SetAttribute("name", name);
                if (payload.Element("nick", Node)?.Text is { Length: > 0 } nick) c.AddElement("nick").Add(nick);
                if (payload.Element("password", Node)?.Text is { Length: > 0 } password) c.AddElement("password").Add(password);
                storage.Add(c);
            }
            await data.PutAsync(owner.Domain, owner.Local!, AccountStores.PrivateXml, LegacyNamespace, StoredStanza.Serialize(storage)).ConfigureAwait(false);
        }
        catch (StorageException)
        {
        }
        finally
        {
            s_syncing.Value = false;
        }
    }
}

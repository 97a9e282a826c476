using System.Globalization;

namespace Tendril.Server.Features.PubSub;

public enum AccessModel { Open, Presence, Roster, Authorize, Whitelist }

public enum PublishModel { Publishers, Subscribers, Open }

public enum SendLastPublished { Never, OnSub, OnSubAndPresence }

/// <summary>pubsub#notification_type: the 'type' of the event messages (XEP-0060 §16.4.3; headline by default).</summary>
public enum NotificationType { Headline, Normal }

/// <summary>pubsub#itemreply: whose JID items carry as their 'publisher' (none, the node owner, the item's publisher).</summary>
public enum ItemReply { None, Owner, Publisher }

/// <summary>
/// A leaf node's configuration (XEP-0060 §16.4.3, FORM_TYPE <c>pubsub#node_config</c>). Immutable: a configure
/// replaces the node's config object, so readers on the publish path never see a half-applied change.
/// </summary>
public sealed record NodeConfig
{
    public AccessModel AccessModel { get; init; } = AccessModel.Open;
    public PublishModel PublishModel { get; init; } = PublishModel.Publishers;
    public bool PersistItems { get; init; } = true;

    /// <summary>Items kept; the service's limit when the form said "max".</summary>
    public int MaxItems { get; init; } = 10;
    public bool DeliverPayloads { get; init; } = true;
    public bool NotifyRetract { get; init; } = true;
    public bool NotifyDelete { get; init; } = true;
    public SendLastPublished SendLastPublishedItem { get; init; } = SendLastPublished.OnSubAndPresence;
    public string Title { get; init; } = "";

    /// <summary>pubsub#description: shown in the node's disco#info meta-data (§5.4), like the title.</summary>
    public string Description { get; init; } = "";

    /// <summary>pubsub#type: the payload type (usually its namespace), shown in the meta-data.</summary>
    public string PayloadType { get; init; } = "";
    public NotificationType NotificationType { get; init; } = NotificationType.Headline;
    public ItemReply ItemReply { get; init; } = ItemReply.None;

    /// <summary>With the roster access model: the owner's roster groups whose contacts may subscribe and retrieve.</summary>
    public IReadOnlyList<string> RosterGroupsAllowed { get; init; } = [];

    /// <summary>The field vars this implementation understands (everything else in a submitted form is refused).</summary>
    public static readonly IReadOnlySet<string> Fields = new HashSet<string>(StringComparer.Ordinal)
    {
        "pubsub#access_model", "pubsub#publish_model", "pubsub#persist_items", "pubsub#max_items", "pubsub#deliver_payloads",
        "pubsub#notify_retract", "pubsub#notify_delete", "pubsub#send_last_published_item", "pubsub#title",
        "pubsub#description", "pubsub#type", "pubsub#notification_type", "pubsub#itemreply", "pubsub#roster_groups_allowed",
    };

    public static string Name(AccessModel m) => m.ToString().ToLowerInvariant();

    public static string Name(PublishModel m) => m.ToString().ToLowerInvariant();

    public static string Name(NotificationType t) => t.ToString().ToLowerInvariant();

    public static string Name(ItemReply r) => r.ToString().ToLowerInvariant();

    /// <summary>The 'type' attribute of this node's event messages (read per event: no allocation).</summary>
    public string MessageType => NotificationType == NotificationType.Normal ? "normal" : "headline";

    public static string Name(SendLastPublished s) => s switch
    {
        SendLastPublished.OnSub => "on_sub",
        SendLastPublished.OnSubAndPresence => "on_sub_and_presence",
        _ => "never",
    };

    /// <summary>The value of one field as the form shows it (for publish-options preconditions and disco meta-data).</summary>
    public IReadOnlyList<string> Values(string var) => var switch
    {
        "pubsub#access_model" => [Name(AccessModel)],
        "pubsub#publish_model" => [Name(PublishModel)],
        "pubsub#persist_items" => [Bool(PersistItems)],
        "pubsub#max_items" => [MaxItems.ToString(CultureInfo.InvariantCulture)],
        "pubsub#deliver_payloads" => [Bool(DeliverPayloads)],
        "pubsub#notify_retract" => [Bool(NotifyRetract)],
        "pubsub#notify_delete" => [Bool(NotifyDelete)],
        "pubsub#send_last_published_item" => [Name(SendLastPublishedItem)],
        "pubsub#title" => [Title],
        "pubsub#description" => [Description],
        "pubsub#type" => [PayloadType],
        "pubsub#notification_type" => [Name(NotificationType)],
        "pubsub#itemreply" => [Name(ItemReply)],
        "pubsub#roster_groups_allowed" => RosterGroupsAllowed,
        _ => [],
    };

    private static string Bool(bool b) => b ? "1" : "0";

    /// <summary>For storage: every field's values.</summary>
    public Dictionary<string, IReadOnlyList<string>> ToMap()
    {
        var map = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var f in Fields) map[f] = Values(f);
        return map;
    }

    /// <summary>The configuration form (type form) with current values and options.</summary>
    public Tendril.Xml.XmlElement ToForm(string type = "form") => DataForm.Build(type, PubSubNs.NodeConfig,
    [
        new("pubsub#title", "text-single", [Title], "A friendly name for the node"),
        new("pubsub#description", "text-single", [Description], "A description of the node"),
        new("pubsub#type", "text-single", [PayloadType], "The type of node data, usually specified by the namespace of the payload"),
        new("pubsub#access_model", "list-single", [Name(AccessModel)], "Who may subscribe and retrieve items", ["open", "presence", "roster", "authorize", "whitelist"]),
        new("pubsub#publish_model", "list-single", [Name(PublishModel)], "Who may publish items", ["publishers", "subscribers", "open"]),
        new("pubsub#persist_items", "boolean", [Bool(PersistItems)], "Persist items to storage"),
        new("pubsub#max_items", "text-single", [MaxItems.ToString(CultureInfo.InvariantCulture)], "Max # of items to persist (or max)"),
        new("pubsub#deliver_payloads", "boolean", [Bool(DeliverPayloads)], "Deliver payloads with event notifications"),
        new("pubsub#notify_retract", "boolean", [Bool(NotifyRetract)], "Notify subscribers when items are removed from the node"),
        new("pubsub#notify_delete", "boolean", [Bool(NotifyDelete)], "Notify subscribers when the node is deleted"),
        new("pubsub#send_last_published_item", "list-single", [Name(SendLastPublishedItem)], "When to send the last published item", ["never", "on_sub", "on_sub_and_presence"]),
        new("pubsub#notification_type", "list-single", [Name(NotificationType)], "The type of event messages", ["headline", "normal"]),
        new("pubsub#itemreply", "list-single", [Name(ItemReply)], "Whose JID items carry as their publisher", ["none", "owner", "publisher"]),
        new("pubsub#roster_groups_allowed", "list-multi", RosterGroupsAllowed, "Roster groups allowed to subscribe (access model roster)"),
    ]);

    /// <summary>
    /// Applies submitted fields to this configuration. Unknown fields or bad values throw not-acceptable (XEP-0060
    /// §8.2.5.3); "max" for max_items means <paramref name="maxItemsLimit"/>, larger numbers are refused.
    /// </summary>
    public NodeConfig Apply(IReadOnlyDictionary<string, IReadOnlyList<string>> fields, int maxItemsLimit)
    {
        var c = this;
        foreach (var (var, values) in fields)
        {
            var v = values.Count > 0 ? values[0] : "";
            c = var switch
            {
                "pubsub#access_model" => c with { AccessModel = ParseEnum<AccessModel>(var, v) },
                "pubsub#publish_model" => c with { PublishModel = ParseEnum<PublishModel>(var, v) },
                "pubsub#persist_items" => c with { PersistItems = Bool(var, v) },
                "pubsub#max_items" => c with { MaxItems = ParseMax(v, maxItemsLimit) },
                "pubsub#deliver_payloads" => c with { DeliverPayloads = Bool(var, v) },
                "pubsub#notify_retract" => c with { NotifyRetract = Bool(var, v) },
                "pubsub#notify_delete" => c with { NotifyDelete = Bool(var, v) },
                "pubsub#send_last_published_item" => c with
                {
                    SendLastPublishedItem = v switch
                    {
                        "never" => SendLastPublished.Never,
                        "on_sub" => SendLastPublished.OnSub,
                        "on_sub_and_presence" => SendLastPublished.OnSubAndPresence,
                        _ => throw PubSubErrors.NotAcceptable($"Unsupported value for {var}: '{v}'."),
                    },
                },
                "pubsub#title" => c with { Title = v },
                "pubsub#description" => c with { Description = v },
                "pubsub#type" => c with { PayloadType = v },
                "pubsub#notification_type" => c with { NotificationType = ParseEnum<NotificationType>(var, v) },
                "pubsub#itemreply" => c with { ItemReply = ParseEnum<ItemReply>(var, v) },
                "pubsub#roster_groups_allowed" => c with { RosterGroupsAllowed = [.. values] },
                _ => throw PubSubErrors.NotAcceptable($"Unsupported configuration field '{var}'."),
            };
        }
        return c;
    }

    /// <summary>Restores a stored configuration (unknown or broken values keep their defaults).</summary>
    public static NodeConfig FromMap(IReadOnlyDictionary<string, IReadOnlyList<string>> map, int maxItemsLimit)
    {
        var c = new NodeConfig();
        foreach (var (var, values) in map)
        {
            if (!Fields.Contains(var)) continue;
            try
            {
                c = c.Apply(new Dictionary<string, IReadOnlyList<string>> { [var] = values }, int.MaxValue);
            }
            catch (PubSubException)
            {
            }
        }
        return c.MaxItems > maxItemsLimit ? c with { MaxItems = maxItemsLimit } : c;
    }

    private static T ParseEnum<T>(string var, string v) where T : struct, Enum =>
        v.Length > 0 && char.IsLower(v[0]) && Enum.TryParse<T>(v, ignoreCase: true, out var r) && Enum.IsDefined(r)
            ? r
            : throw PubSubErrors.NotAcceptable($"Unsupported value for {var}: '{v}'.");

    private static bool Bool(string var, string v) =>
        DataForm.ParseBool(v) ?? throw PubSubErrors.NotAcceptable($"{var} must be a boolean, not '{v}'.");

    private static int ParseMax(string v, int limit)
    {
        if (v == "max") return limit;
        if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
            throw PubSubErrors.NotAcceptable($"pubsub#max_items must be a positive number or 'max', not '{v}'.");
        if (n > limit) throw PubSubErrors.NotAcceptable($"pubsub#max_items may be at most {limit}.");
        return n;
    }
}

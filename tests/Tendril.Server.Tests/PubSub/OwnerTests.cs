using Tendril.Server.Features;
using Tendril.Protocol;
using Tendril.Server.Features.PubSub;

namespace Tendril.Server.Tests.PubSub;

/// <summary>XEP-0060 §5 (discovery) and §8 (owner use cases).</summary>
public sealed class OwnerTests : PubSubTestBase
{
    [Fact]
    public async Task Service_is_listed_and_advertises_exactly_the_implemented_features()
    {
        var j = await LoginAsync("juliet");
        var items = await IqAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#items'/>", "localhost");
        Assert.Contains(items.Element("query", Ns.DiscoItems)!.Els("item"), i => i.GetAttribute("jid") == Service);

        var info = (await OkAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>")).Element("query", Ns.DiscoInfo)!;
        var identity = info.Element("identity")!;
        Assert.Equal(("pubsub", "service"), (identity.GetAttribute("category"), identity.GetAttribute("type")));
        var features = info.Els("feature").Select(f => f.GetAttribute("var")).ToList();
        Assert.Contains(PubSubNs.PubSub, features);
        foreach (var f in PubSubService.Features) Assert.Contains(PubSubNs.Feature(f), features);
        Assert.DoesNotContain(PubSubNs.Feature("collections"), features);
        Assert.DoesNotContain(PubSubNs.Feature("multi-subscribe"), features);
        Assert.DoesNotContain(PubSubNs.Feature("get-pending"), features);
    }

    [Fact]
    public async Task Create_named_and_instant_nodes_with_the_errors_of_8_1_3()
    {
        var j = await LoginAsync("juliet");
        var r = await OkAsync(j, "set", $"<pubsub xmlns='{PS}'><create node='news'/></pubsub>");
        Assert.Null(r.Element("pubsub", PS));
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><create node='news'/></pubsub>", "cancel", "conflict");

        var instant = await OkAsync(j, "set", $"<pubsub xmlns='{PS}'><create/></pubsub>");
        var id = instant.Element("pubsub", PS)!.Element("create")!.GetAttribute("node");
        Assert.False(string.IsNullOrEmpty(id));

        var nodes = await OkAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#items'/>");
        var listed = nodes.Element("query", Ns.DiscoItems)!.Els("item").Select(i => i.GetAttribute("node")).ToList();
        Assert.Contains("news", listed);
        Assert.Contains(id, listed);

        var info = await OkAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#info' node='news'/>");
        Assert.Equal("leaf", info.Element("query", Ns.DiscoInfo)!.Element("identity")!.GetAttribute("type"));
        await ErrorAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#info' node='nope'/>", "cancel", "item-not-found");

        // Bad configuration in create-and-configure: not-acceptable, nothing created.
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><create node='bad'/><configure>{Form(PubSubNs.NodeConfig, Field("pubsub#access_model", "everyone"))}</configure></pubsub>", "modify", "not-acceptable");
        await ErrorAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#info' node='bad'/>", "cancel", "item-not-found");
    }

    [Fact]
    public async Task Configure_get_and_set_with_forms_and_errors()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news", Field("pubsub#title", "News") + Field("pubsub#max_items", "3"));

        var form = (await OkAsync(j, "get", $"<pubsub xmlns='{Owner}'><configure node='news'/></pubsub>")).Element("pubsub", Owner)!.Element("configure")!.Element("x", "jabber:x:data")!;
        Assert.Equal("form", form.GetAttribute("type"));
        string? Value(string var) => form.Els("field").First(f => f.GetAttribute("var") == var).Element("value")?.Text;
        Assert.Equal("News", Value("pubsub#title"));
        Assert.Equal("3", Value("pubsub#max_items"));
        Assert.Equal("open", Value("pubsub#access_model"));
        foreach (var var in new[] { "pubsub#publish_model", "pubsub#persist_items", "pubsub#deliver_payloads", "pubsub#notify_retract", "pubsub#notify_delete", "pubsub#send_last_published_item" })
            Assert.NotNull(Value(var));

        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><configure node='news'>{Form(PubSubNs.NodeConfig, Field("pubsub#access_model", "whitelist") + Field("pubsub#max_items", "max"))}</configure></pubsub>");
        form = (await OkAsync(j, "get", $"<pubsub xmlns='{Owner}'><configure node='news'/></pubsub>")).Element("pubsub", Owner)!.Element("configure")!.Element("x", "jabber:x:data")!;
        Assert.Equal("whitelist", Value("pubsub#access_model"));
        Assert.Equal("1000", Value("pubsub#max_items"));

        await ErrorAsync(r, "get", $"<pubsub xmlns='{Owner}'><configure node='news'/></pubsub>", "auth", "forbidden");
        await ErrorAsync(r, "set", $"<pubsub xmlns='{Owner}'><configure node='news'>{Form(PubSubNs.NodeConfig, Field("pubsub#title", "x"))}</configure></pubsub>", "auth", "forbidden");
        await ErrorAsync(j, "get", $"<pubsub xmlns='{Owner}'><configure node='nope'/></pubsub>", "cancel", "item-not-found");
        await ErrorAsync(j, "get", $"<pubsub xmlns='{Owner}'><configure/></pubsub>", "modify", "bad-request", "nodeid-required");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{Owner}'><configure node='news'>{Form(PubSubNs.NodeConfig, Field("pubsub#bogus", "1"))}</configure></pubsub>", "modify", "not-acceptable");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{Owner}'><configure node='news'>{Form("urn:other", Field("pubsub#title", "1"))}</configure></pubsub>", "modify", "bad-request");
        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><configure node='news'><x xmlns='jabber:x:data' type='cancel'/></configure></pubsub>");

        var defaults = (await OkAsync(j, "get", $"<pubsub xmlns='{Owner}'><default/></pubsub>")).Element("pubsub", Owner)!.Element("default")!.Element("x", "jabber:x:data")!;
        Assert.Contains(defaults.Els("field"), f => f.GetAttribute("var") == "pubsub#access_model" && f.Element("value")!.Text == "open");
    }

    [Fact]
    public async Task The_configuration_form_offers_every_honoured_field_and_title_description_type_notification_type_and_itemreply_work()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "feed",
            Field("pubsub#title", "Feed") + Field("pubsub#description", "What the house hears") + Field("pubsub#type", "urn:test")
            + Field("pubsub#notification_type", "normal") + Field("pubsub#itemreply", "publisher"));

        // XEP-0060 §16.4.3: the form offers exactly what the service honours (NodeConfig.Fields), with current values.
        var form = (await OkAsync(j, "get", $"<pubsub xmlns='{Owner}'><configure node='feed'/></pubsub>")).Element("pubsub", Owner)!.Element("configure")!.Element("x", "jabber:x:data")!;
        var offered = form.Els("field").Select(f => f.GetAttribute("var")!).Where(v => v != "FORM_TYPE").ToHashSet();
        Assert.Equal(NodeConfig.Fields.ToHashSet(), offered);
        string? Value(string var) => form.Els("field").First(f => f.GetAttribute("var") == var).Element("value")?.Text;
        Assert.Equal(("What the house hears", "urn:test", "normal", "publisher"),
            (Value("pubsub#description"), Value("pubsub#type"), Value("pubsub#notification_type"), Value("pubsub#itemreply")));

        // Title, description and type are the node's meta-data (§5.4).
        var info = await IqAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#info' node='feed'/>");
        var meta = info.Element("query", "http://jabber.org/protocol/disco#info")!.Element("x", "jabber:x:data")!;
        string? Meta(string var) => meta.Els("field").FirstOrDefault(f => f.GetAttribute("var") == var)?.Element("value")?.Text;
        Assert.Equal(("Feed", "What the house hears", "urn:test"), (Meta("pubsub#title"), Meta("pubsub#description"), Meta("pubsub#type")));

        // notification_type: the events are type='normal'; itemreply=publisher: items name their publisher's bare JID.
        await SubscribeAsync(r, "feed");
        await PublishAsync(j, "feed", id: "one");
        var message = await r.WaitForAsync(e => e.Name == "message" && e.Element("event", PubSubNs.Event) is not null);
        Assert.Equal("normal", message.GetAttribute("type"));
        Assert.Equal("juliet@localhost", message.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.GetAttribute("publisher"));
        var items = await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='feed'/></pubsub>");
        Assert.Equal("juliet@localhost", items.Element("pubsub", PS)!.Element("items")!.Element("item")!.GetAttribute("publisher"));

        // The defaults: headline, and no publisher.
        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><configure node='feed'>{Form(PubSubNs.NodeConfig, Field("pubsub#notification_type", "headline") + Field("pubsub#itemreply", "none"))}</configure></pubsub>");
        await PublishAsync(j, "feed", id: "two");
        message = await r.WaitForAsync(e => e.Name == "message" && e.Element("event", PubSubNs.Event)?.Element("items")?.Element("item")?.GetAttribute("id") == "two");
        Assert.Equal("headline", message.GetAttribute("type"));
        Assert.Null(message.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.GetAttribute("publisher"));

        await ErrorAsync(j, "set", $"<pubsub xmlns='{Owner}'><configure node='feed'>{Form(PubSubNs.NodeConfig, Field("pubsub#notification_type", "loud"))}</configure></pubsub>", "modify", "not-acceptable");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{Owner}'><configure node='feed'>{Form(PubSubNs.NodeConfig, Field("pubsub#itemreply", "Owner"))}</configure></pubsub>", "modify", "not-acceptable");
    }

    [Fact]
    public async Task Delete_with_redirect_notifies_subscribers_and_purge_notifies_too()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news");
        await SubscribeAsync(r, "news");
        await PublishAsync(j, "news");
        await EventAsync(r);

        await ErrorAsync(r, "set", $"<pubsub xmlns='{Owner}'><purge node='news'/></pubsub>", "auth", "forbidden");
        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><purge node='news'/></pubsub>");
        Assert.Equal("news", (await EventAsync(r)).Element("purge", PubSubNs.Event)!.GetAttribute("node"));
        var items = await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='news'/></pubsub>");
        Assert.Empty(items.Element("pubsub", PS)!.Element("items")!.Els("item"));

        await ErrorAsync(r, "set", $"<pubsub xmlns='{Owner}'><delete node='news'/></pubsub>", "auth", "forbidden");
        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><delete node='news'><redirect uri='xmpp:pubsub.localhost?;node=new'/></delete></pubsub>");
        var delete = (await EventAsync(r)).Element("delete", PubSubNs.Event)!;
        Assert.Equal("news", delete.GetAttribute("node"));
        Assert.Equal("xmpp:pubsub.localhost?;node=new", delete.Element("redirect")!.GetAttribute("uri"));
        await ErrorAsync(j, "set", $"<pubsub xmlns='{Owner}'><delete node='news'/></pubsub>", "cancel", "item-not-found");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{Owner}'><purge node='news'/></pubsub>", "cancel", "item-not-found");
    }

    [Fact]
    public async Task Owner_manages_affiliations_and_subscriptions()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        var n = await LoginAsync("nurse");
        await CreateAsync(j, "news");

        // romeo may not publish until made publisher.
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><publish node='news'><item><x xmlns='urn:t'/></item></publish></pubsub>", "auth", "forbidden");
        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><affiliations node='news'><affiliation jid='romeo@localhost' affiliation='publisher'/><affiliation jid='nurse@localhost' affiliation='outcast'/></affiliations></pubsub>");
        await PublishAsync(r, "news");
        var affs = (await OkAsync(j, "get", $"<pubsub xmlns='{Owner}'><affiliations node='news'/></pubsub>")).Element("pubsub", Owner)!.Element("affiliations")!;
        Assert.Equal(["juliet@localhost:owner", "nurse@localhost:outcast", "romeo@localhost:publisher"],
            affs.Els("affiliation").Select(a => a.GetAttribute("jid") + ":" + a.GetAttribute("affiliation")));
        await ErrorAsync(r, "get", $"<pubsub xmlns='{Owner}'><affiliations node='news'/></pubsub>", "auth", "forbidden");
        // The last owner cannot leave.
        await ErrorAsync(j, "set", $"<pubsub xmlns='{Owner}'><affiliations node='news'><affiliation jid='juliet@localhost' affiliation='none'/></affiliations></pubsub>", "modify", "not-acceptable");

        // An outcast is blocked (§6.1.3.8).
        await ErrorAsync(n, "set", $"<pubsub xmlns='{PS}'><subscribe node='news' jid='{n.Jid}'/></pubsub>", "auth", "forbidden");

        // Entities see their own affiliations (§5.7).
        var own = (await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><affiliations/></pubsub>")).Element("pubsub", PS)!.Element("affiliations")!;
        var a = Assert.Single(own.Els("affiliation"));
        Assert.Equal(("news", "publisher"), (a.GetAttribute("node"), a.GetAttribute("affiliation")));

        // Subscriptions: owner lists them, and removes one; the subscriber is told.
        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><affiliations node='news'><affiliation jid='nurse@localhost' affiliation='none'/></affiliations></pubsub>");
        await SubscribeAsync(n, "news");
        var subs = (await OkAsync(j, "get", $"<pubsub xmlns='{Owner}'><subscriptions node='news'/></pubsub>")).Element("pubsub", Owner)!.Element("subscriptions")!;
        var s = Assert.Single(subs.Els("subscription"));
        Assert.Equal((n.Jid, "subscribed"), (s.GetAttribute("jid"), s.GetAttribute("subscription")));
        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><subscriptions node='news'><subscription jid='{n.Jid}' subscription='none'/></subscriptions></pubsub>");
        var ev = (await n.WaitForAsync(e => e.Element("event", PubSubNs.Event)?.Element("subscription") is not null)).Element("event", PubSubNs.Event)!.Element("subscription")!;
        Assert.Equal("none", ev.GetAttribute("subscription"));
        subs = (await OkAsync(j, "get", $"<pubsub xmlns='{Owner}'><subscriptions node='news'/></pubsub>")).Element("pubsub", Owner)!.Element("subscriptions")!;
        Assert.Empty(subs.Els("subscription"));
        await ErrorAsync(r, "get", $"<pubsub xmlns='{Owner}'><subscriptions node='news'/></pubsub>", "auth", "forbidden");
    }

    [Fact]
    public async Task Authorize_model_pends_asks_the_owner_and_the_approval_subscribes()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "private", Field("pubsub#access_model", "authorize"));
        await PublishAsync(j, "private", "<entry xmlns='urn:test'>secret</entry>");

        var reply = await SubscribeAsync(r, "private");
        var sub = reply.Element("pubsub", PS)!.Element("subscription")!;
        Assert.Equal("pending", sub.GetAttribute("subscription"));
        var subId = sub.GetAttribute("subid");
        // A second request while pending (§6.1.3.7).
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><subscribe node='private' jid='{r.Jid}'/></pubsub>", "auth", "not-authorized", "pending-subscription");
        // Not subscribed yet: items are refused (§6.5.9.3).
        await ErrorAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='private'/></pubsub>", "auth", "not-authorized", "not-subscribed");

        // §8.6.1: the owner gets a form.
        var ask = await j.WaitForAsync(e => e.Name == "message" && e.Element("x", "jabber:x:data") is not null);
        Assert.Equal(Service, ask.GetAttribute("from"));
        var fields = ask.Element("x", "jabber:x:data")!.Els("field").ToDictionary(f => f.GetAttribute("var")!, f => f.Element("value")?.Text);
        Assert.Equal(PubSubNs.SubscribeAuthorization, fields["FORM_TYPE"]);
        Assert.Equal("private", fields["pubsub#node"]);
        Assert.Equal(r.Jid, fields["pubsub#subscriber_jid"]);
        Assert.Equal(subId, fields["pubsub#subid"]);

        // §8.6.2: approve.
        await j.SendAsync($"<message to='{Service}'>{Form(PubSubNs.SubscribeAuthorization, Field("pubsub#subid", subId!) + Field("pubsub#node", "private") + Field("pubsub#subscriber_jid", r.Jid!) + Field("pubsub#allow", "true"))}</message>");
        var ev = (await EventAsync(r)).Element("subscription", PubSubNs.Event)!;
        Assert.Equal("subscribed", ev.GetAttribute("subscription"));
        var items = await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='private'/></pubsub>");
        Assert.Equal("secret", Assert.Single(items.Element("pubsub", PS)!.Element("items")!.Els("item")).FirstElement()!.Text);
    }
}

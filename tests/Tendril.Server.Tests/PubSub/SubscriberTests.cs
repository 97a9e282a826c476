using Tendril.Server.Features;
using Tendril.Server.Features.PubSub;

namespace Tendril.Server.Tests.PubSub;

/// <summary>XEP-0060 §6: subscribe, unsubscribe, options, retrieve items — with the errors of each.</summary>
public sealed class SubscriberTests : PubSubTestBase
{
    [Fact]
    public async Task Subscribe_returns_the_subscription_and_the_errors_of_6_1_3()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news");

        var sub = (await SubscribeAsync(r, "news")).Element("pubsub", PS)!.Element("subscription")!;
        Assert.Equal(("news", r.Jid, "subscribed"), (sub.GetAttribute("node"), sub.GetAttribute("jid"), sub.GetAttribute("subscription")));
        Assert.False(string.IsNullOrEmpty(sub.GetAttribute("subid")));
        // Subscribing again returns the same subscription (no multi-subscribe).
        var again = (await SubscribeAsync(r, "news")).Element("pubsub", PS)!.Element("subscription")!;
        Assert.Equal(sub.GetAttribute("subid"), again.GetAttribute("subid"));

        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><subscribe node='news' jid='juliet@localhost'/></pubsub>", "modify", "bad-request", "invalid-jid");
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><subscribe jid='{r.Jid}'/></pubsub>", "modify", "bad-request", "nodeid-required");
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><subscribe node='nope' jid='{r.Jid}'/></pubsub>", "cancel", "item-not-found");

        await CreateAsync(j, "presence", Field("pubsub#access_model", "presence"));
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><subscribe node='presence' jid='{r.Jid}'/></pubsub>", "auth", "not-authorized", "presence-subscription-required");
        await ErrorAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='presence'/></pubsub>", "auth", "not-authorized", "presence-subscription-required");
        await CreateAsync(j, "roster", Field("pubsub#access_model", "roster") + Field("pubsub#roster_groups_allowed", "friends"));
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><subscribe node='roster' jid='{r.Jid}'/></pubsub>", "auth", "not-authorized", "not-in-roster-group");
        await ErrorAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='roster'/></pubsub>", "auth", "not-authorized", "not-in-roster-group");
        await CreateAsync(j, "white", Field("pubsub#access_model", "whitelist"));
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><subscribe node='white' jid='{r.Jid}'/></pubsub>", "cancel", "not-allowed", "closed-node");
        await ErrorAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='white'/></pubsub>", "cancel", "not-allowed", "closed-node");
        // The owner always may; a member of a whitelist node may.
        await SubscribeAsync(j, "white");
        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><affiliations node='white'><affiliation jid='romeo@localhost' affiliation='member'/></affiliations></pubsub>");
        await SubscribeAsync(r, "white");

        // §5.6: own subscriptions.
        var mine = (await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><subscriptions/></pubsub>")).Element("pubsub", PS)!.Element("subscriptions")!;
        Assert.Equal(["news", "white"], mine.Els("subscription").Select(s => s.GetAttribute("node")).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Unsubscribe_and_its_errors()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news");
        var subId = (await SubscribeAsync(r, "news")).Element("pubsub", PS)!.Element("subscription")!.GetAttribute("subid");

        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><unsubscribe node='news' jid='{r.Jid}'/></pubsub>", "auth", "forbidden");
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><unsubscribe node='news' jid='{r.Jid}' subid='wrong'/></pubsub>", "modify", "not-acceptable", "invalid-subid");
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><unsubscribe node='nope' jid='{r.Jid}'/></pubsub>", "cancel", "item-not-found");
        await OkAsync(r, "set", $"<pubsub xmlns='{PS}'><unsubscribe node='news' jid='{r.Jid}' subid='{subId}'/></pubsub>");
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><unsubscribe node='news' jid='{r.Jid}'/></pubsub>", "wait", "unexpected-request", "not-subscribed");

        await PublishAsync(j, "news");
        await AssertNoEventAsync(r);
    }

    [Fact]
    public async Task Subscription_options_get_set_and_deliver_false_pauses_notifications()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news");
        await ErrorAsync(r, "get", $"<pubsub xmlns='{PS}'><options node='news' jid='{r.Jid}'/></pubsub>", "wait", "unexpected-request", "not-subscribed");
        await SubscribeAsync(r, "news");

        var options = (await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><options node='news' jid='{r.Jid}'/></pubsub>")).Element("pubsub", PS)!.Element("options")!;
        var x = options.Element("x", "jabber:x:data")!;
        Assert.Contains(x.Els("field"), f => f.GetAttribute("var") == "FORM_TYPE" && f.Element("value")!.Text == PubSubNs.SubscribeOptions);
        Assert.Contains(x.Els("field"), f => f.GetAttribute("var") == "pubsub#deliver");
        await ErrorAsync(j, "get", $"<pubsub xmlns='{PS}'><options node='news' jid='{r.Jid}'/></pubsub>", "auth", "forbidden");

        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><options node='news' jid='{r.Jid}'>{Form(PubSubNs.SubscribeOptions, Field("pubsub#digest", "1"))}</options></pubsub>", "modify", "bad-request", "invalid-options");
        await OkAsync(r, "set", $"<pubsub xmlns='{PS}'><options node='news' jid='{r.Jid}'>{Form(PubSubNs.SubscribeOptions, Field("pubsub#deliver", "false"))}</options></pubsub>");
        await PublishAsync(j, "news");
        await AssertNoEventAsync(r);
        await OkAsync(r, "set", $"<pubsub xmlns='{PS}'><options node='news' jid='{r.Jid}'>{Form(PubSubNs.SubscribeOptions, Field("pubsub#deliver", "1"))}</options></pubsub>");
        await PublishAsync(j, "news");
        await EventAsync(r);

        var defaults = (await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><default/></pubsub>")).Element("pubsub", PS)!.Element("default")!;
        Assert.NotNull(defaults.Element("x", "jabber:x:data"));
    }

    [Fact]
    public async Task Rsm_validation_index_and_last_page_match_mam()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news");
        for (var i = 1; i <= 5; i++) await PublishAsync(j, "news", $"<entry xmlns='urn:test'>{i}</entry>", "i" + i);
        string Items(string set) => $"<pubsub xmlns='{PS}'><items node='news'/><set xmlns='http://jabber.org/protocol/rsm'>{set}</set></pubsub>";
        Tendril.Xml.XmlElement Set(Tendril.Xml.XmlElement reply) => reply.Element("pubsub", PS)!.Element("set", PubSubNs.Rsm)!;
        List<string?> Ids(Tendril.Xml.XmlElement reply) => [.. reply.Element("pubsub", PS)!.Element("items")!.Els("item").Select(i => i.GetAttribute("id"))];

        // First page: index 0; last page (empty <before/>, XEP-0059 §2.5) and after an id: none.
        Assert.Equal("0", Set(await OkAsync(r, "get", Items("<max>2</max>"))).Element("first", PubSubNs.Rsm)!.GetAttribute("index"));
        var last = await OkAsync(r, "get", Items("<max>2</max><before/>"));
        Assert.Equal(["i2", "i1"], Ids(last));
        Assert.Equal(("i2", (string?)null, "i1", "5"), (Set(last).Element("first", PubSubNs.Rsm)!.Text, Set(last).Element("first", PubSubNs.Rsm)!.GetAttribute("index"),
            Set(last).Element("last", PubSubNs.Rsm)!.Text, Set(last).Element("count", PubSubNs.Rsm)!.Text));
        Assert.Null(Set(await OkAsync(r, "get", Items("<max>2</max><after>i4</after>"))).Element("first", PubSubNs.Rsm)!.GetAttribute("index"));
        var countOnly = await OkAsync(r, "get", Items("<max>0</max>"));
        Assert.Empty(Ids(countOnly));
        Assert.Null(Set(countOnly).Element("first", PubSubNs.Rsm));
        Assert.Equal("5", Set(countOnly).Element("count", PubSubNs.Rsm)!.Text);

        // The same refusals as MAM: bad max or index, empty after; an unknown before is item-not-found (§2.4).
        await ErrorAsync(r, "get", Items("<max>-1</max>"), "modify", "bad-request");
        await ErrorAsync(r, "get", Items("<max>two</max>"), "modify", "bad-request");
        await ErrorAsync(r, "get", Items("<after/>"), "modify", "bad-request");
        await ErrorAsync(r, "get", Items("<index>x</index>"), "modify", "bad-request");
        await ErrorAsync(r, "get", Items("<index>1</index>"), "cancel", "feature-not-implemented", "unsupported", "rsm");
        await ErrorAsync(r, "get", Items("<before>gone</before>"), "cancel", "item-not-found");
        Assert.Equal(5, Ids(await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='news'/></pubsub>")).Count);
    }

    [Fact]
    public async Task Items_all_by_id_latest_n_and_rsm_pages()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news");
        for (var i = 1; i <= 5; i++) await PublishAsync(j, "news", $"<entry xmlns='urn:test'>{i}</entry>", "i" + i);

        List<string?> Ids(Tendril.Xml.XmlElement reply) => [.. reply.Element("pubsub", PS)!.Element("items")!.Els("item").Select(i => i.GetAttribute("id"))];
        var all = await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='news'/></pubsub>");
        Assert.Equal(["i5", "i4", "i3", "i2", "i1"], Ids(all));
        Assert.Equal("5", all.Element("pubsub", PS)!.Element("items")!.Element("item")!.FirstElement()!.Text);
        Assert.Equal(["i5", "i4"], Ids(await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='news' max_items='2'/></pubsub>")));
        Assert.Equal(["i3", "i1"], Ids(await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='news'><item id='i1'/><item id='i3'/></items></pubsub>")));

        var page1 = await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='news'/><set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set></pubsub>");
        Assert.Equal(["i5", "i4"], Ids(page1));
        var set = page1.Element("pubsub", PS)!.Element("set", PubSubNs.Rsm)!;
        Assert.Equal(("i5", "i4", "5"), (set.Element("first")!.Text, set.Element("last")!.Text, set.Element("count")!.Text));
        var page2 = await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='news'/><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>i4</after></set></pubsub>");
        Assert.Equal(["i3", "i2"], Ids(page2));
        await ErrorAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='news'/><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>gone</after></set></pubsub>", "cancel", "item-not-found");

        await ErrorAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='nope'/></pubsub>", "cancel", "item-not-found");
        await ErrorAsync(r, "get", $"<pubsub xmlns='{PS}'><items/></pubsub>", "modify", "bad-request", "nodeid-required");
        await CreateAsync(j, "transient", Field("pubsub#persist_items", "0"));
        await ErrorAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='transient'/></pubsub>", "cancel", "feature-not-implemented", "unsupported", "persistent-items");

        // disco#items on a node lists item ids.
        var discoItems = await OkAsync(r, "get", "<query xmlns='http://jabber.org/protocol/disco#items' node='news'/>");
        Assert.Equal(5, discoItems.Element("query", Tendril.Protocol.Ns.DiscoItems)!.Els("item").Count());
    }

    [Fact]
    public async Task Last_published_item_on_subscribe_and_on_presence()
    {
        var j = await LoginAsync("juliet");
        await CreateAsync(j, "news");
        await CreateAsync(j, "quiet", Field("pubsub#send_last_published_item", "never"));
        await PublishAsync(j, "news", "<entry xmlns='urn:test'>first</entry>", "a");
        await PublishAsync(j, "news", "<entry xmlns='urn:test'>latest</entry>", "b");
        await PublishAsync(j, "quiet", "<entry xmlns='urn:test'>q</entry>");

        var r = await LoginAsync("romeo", "one");
        await SubscribeAsync(r, "quiet");
        await OkAsync(r, "set", $"<pubsub xmlns='{PS}'><subscribe node='news' jid='romeo@localhost'/></pubsub>");
        var m = await r.WaitForAsync(e => e.Name == "message");
        var item = m.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!;
        Assert.Equal("b", item.GetAttribute("id"));
        Assert.NotNull(m.Element("delay", "urn:xmpp:delay"));
        await AssertNoEventAsync(r);

        // A later session of the subscribed account gets it when it becomes available (on_sub_and_presence).
        var r2 = await LoginAsync("romeo", "two", presence: false);
        await r2.SendAsync("<presence/>");
        var m2 = await r2.WaitForAsync(e => e.Name == "message");
        Assert.Equal("b", m2.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.GetAttribute("id"));
    }
}

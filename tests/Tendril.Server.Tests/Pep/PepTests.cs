using Tendril.Server.Features;
using Tendril.Server.Tests.PubSub;
using Tendril.Protocol;
using Tendril.Server.Features.PubSub;
using Tendril.Xml;

namespace Tendril.Server.Tests.Pep;

public sealed class PepTests : PepTestBase
{
    private const string Tune = "http://jabber.org/protocol/tune";

    [Fact]
    public async Task Account_disco_advertises_the_pep_identity_and_features()
    {
        var juliet = await LoginAsync("juliet");
        var r = await OkAsync(juliet, "get", $"<query xmlns='{Ns.DiscoInfo}'/>", "juliet@localhost");
        var q = r.Element("query", Ns.DiscoInfo)!;
        Assert.Contains(q.Els("identity"), i => i.GetAttribute("category") == "pubsub" && i.GetAttribute("type") == "pep");
        var vars = q.Els("feature").Select(f => f.GetAttribute("var")).ToList();
        Assert.Contains(PubSubNs.Feature("publish"), vars);
        Assert.Contains(PubSubNs.Feature("auto-create"), vars);
        Assert.Contains(PubSubNs.Feature("publish-options"), vars);
        Assert.Contains(PubSubNs.Feature("last-published"), vars);
    }

    [Fact]
    public async Task Publish_auto_creates_the_node_with_pep_defaults()
    {
        var juliet = await LoginAsync("juliet", "r", Tune);
        var other = await LoginAsync("juliet", "other", Tune);
        var r = await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'><title>Yesterday</title></tune>");
        Assert.Equal("result", r.GetAttribute("type"));
        var config = await OkAsync(juliet, "get", $"<pubsub xmlns='{PubSubNs.Owner}'><configure node='{Tune}'/></pubsub>");
        var fields = config.Element("pubsub", PubSubNs.Owner)!.Element("configure")!.Element("x", "jabber:x:data")!.Els("field")
            .ToDictionary(f => f.GetAttribute("var")!, f => f.Element("value")?.Text);
        Assert.Equal("presence", fields["pubsub#access_model"]);
        Assert.Equal("1", fields["pubsub#max_items"]);
        Assert.Equal("on_sub_and_presence", fields["pubsub#send_last_published_item"]);
        // The owner's own resource with +notify got the event (implicit subscription), from the bare JID.
        var ev = await EventAsync(other, "juliet@localhost");
        Assert.Equal("Yesterday", ev.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.Element("tune", Tune)!.Element("title")!.Text);
    }

    [Fact]
    public async Task Only_the_owner_publishes()
    {
        var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo");
        await SubscribeToPresenceAsync(romeo, juliet);
        var r = await IqAsync(romeo, "set", $"<pubsub xmlns='{PS}'><publish node='{Tune}'><item><tune xmlns='{Tune}'/></item></publish></pubsub>", "juliet@localhost");
        Assert.Equal("error", r.GetAttribute("type"));
        var c = await IqAsync(romeo, "set", $"<pubsub xmlns='{PS}'><create node='x'/></pubsub>", "juliet@localhost");
        AssertError(c, "forbidden");
    }

    [Fact]
    public async Task Events_reach_contacts_with_a_presence_subscription_and_notify()
    {
        var juliet = await LoginAsync("juliet", "r", Tune);
        var julietOther = await LoginAsync("juliet", "other", Tune);
        var romeo = await LoginAsync("romeo", "r", Tune);
        var romeoNoNotify = await LoginAsync("romeo", "other");
        var nurse = await LoginAsync("nurse", "r", Tune);
        await SubscribeToPresenceAsync(romeo, juliet);
        await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'><title>Nocturne</title></tune>", "current");
        var ev = await EventAsync(romeo, "juliet@localhost");
        Assert.Equal("current", ev.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.GetAttribute("id"));
        await EventAsync(julietOther, "juliet@localhost");
        await AssertNoEventAsync(nurse);
        await AssertNoEventAsync(romeoNoNotify);

        // Items: the contact may retrieve, a stranger may not (access model presence).
        var items = await OkAsync(romeo, "get", $"<pubsub xmlns='{PS}'><items node='{Tune}'/></pubsub>", "juliet@localhost");
        Assert.Single(items.Element("pubsub", PS)!.Element("items")!.Els("item"));
        var denied = await IqAsync(nurse, "get", $"<pubsub xmlns='{PS}'><items node='{Tune}'/></pubsub>", "juliet@localhost");
        AssertError(denied, "not-authorized", "presence-subscription-required");
    }

    [Fact]
    public async Task Last_item_arrives_on_login()
    {
        var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo");
        await SubscribeToPresenceAsync(romeo, juliet);
        await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'><title>Old</title></tune>");
        await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'><title>New</title></tune>");
        var later = await LoginAsync("romeo", "later", Tune);
        var ev = await EventAsync(later, "juliet@localhost");
        Assert.Equal("New", ev.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.Element("tune", Tune)!.Element("title")!.Text);
        Assert.NotNull(ev.Element("delay", Ns.Delay));
    }

    [Fact]
    public async Task Private_data_with_whitelist_publish_options_stays_private()
    {
        const string Node = "storage:bookmarks";
        var juliet = await LoginAsync("juliet", "r", Node);
        var julietOther = await LoginAsync("juliet", "other", Node);
        var romeo = await LoginAsync("romeo", "r", Node);
        await SubscribeToPresenceAsync(romeo, juliet);
        var options = Field("pubsub#persist_items", "true") + Field("pubsub#access_model", "whitelist");
        var r = await PublishAsync(juliet, Node, "<storage xmlns='storage:bookmarks'><conference jid='a@b'/></storage>", "current", options);
        Assert.Equal("result", r.GetAttribute("type"));
        await EventAsync(julietOther, "juliet@localhost");
        await AssertNoEventAsync(romeo);
        var denied = await IqAsync(romeo, "get", $"<pubsub xmlns='{PS}'><items node='{Node}'/></pubsub>", "juliet@localhost");
        AssertError(denied, "not-allowed", "closed-node");
        // Same options again: met; a different access model: precondition-not-met.
        Assert.Equal("result", (await PublishAsync(juliet, Node, "<storage xmlns='storage:bookmarks'/>", "current", options)).GetAttribute("type"));
        var mismatch = await PublishAsync(juliet, Node, "<storage xmlns='storage:bookmarks'/>", "current", Field("pubsub#access_model", "presence"));
        AssertError(mismatch, "conflict", "precondition-not-met");
        var own = await OkAsync(juliet, "get", $"<pubsub xmlns='{PS}'><items node='{Node}'/></pubsub>");
        Assert.Single(own.Element("pubsub", PS)!.Element("items")!.Els("item"));
    }

    [Fact]
    public async Task Bookmarks2_reach_the_owners_other_resources_only()
    {
        const string Node = "urn:xmpp:bookmarks:1";
        var juliet = await LoginAsync("juliet", "a", Node);
        var julietOther = await LoginAsync("juliet", "b", Node);
        var romeo = await LoginAsync("romeo", "r", Node);
        await SubscribeToPresenceAsync(romeo, juliet);
        var options = Field("pubsub#persist_items", "true") + Field("pubsub#max_items", "max") + Field("pubsub#send_last_published_item", "never") + Field("pubsub#access_model", "whitelist");
        var r = await PublishAsync(juliet, Node, $"<conference xmlns='{Node}' name='Balcony' autojoin='true'/>", "balcony@rooms.localhost", options);
        Assert.Equal("result", r.GetAttribute("type"));
        Assert.Equal("result", (await PublishAsync(juliet, Node, $"<conference xmlns='{Node}' name='Crypt'/>", "crypt@rooms.localhost", options)).GetAttribute("type"));
        var ev = await EventAsync(julietOther, "juliet@localhost");
        Assert.Equal("balcony@rooms.localhost", ev.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.GetAttribute("id"));
        await AssertNoEventAsync(romeo);
        var all = await OkAsync(juliet, "get", $"<pubsub xmlns='{PS}'><items node='{Node}'/></pubsub>");
        Assert.Equal(2, all.Element("pubsub", PS)!.Element("items")!.Els("item").Count);
    }

    [Fact]
    public async Task Avatar_metadata_reaches_contacts_and_arrives_on_login()
    {
        const string Meta = "urn:xmpp:avatar:metadata";
        const string Data = "urn:xmpp:avatar:data";
        var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo", "r", Meta);
        await SubscribeToPresenceAsync(romeo, juliet);
        Assert.Equal("result", (await PublishAsync(juliet, Data, $"<data xmlns='{Data}'>iVBORw0KGgo=</data>", "abc123")).GetAttribute("type"));
        Assert.Equal("result", (await PublishAsync(juliet, Meta, $"<metadata xmlns='{Meta}'><info id='abc123' bytes='8' type='image/png'/></metadata>", "abc123")).GetAttribute("type"));
        var ev = await EventAsync(romeo, "juliet@localhost");
        Assert.Equal(Meta, ev.Element("event", PubSubNs.Event)!.Element("items")!.GetAttribute("node")); // no +notify for data
        var data = await OkAsync(romeo, "get", $"<pubsub xmlns='{PS}'><items node='{Data}'><item id='abc123'/></items></pubsub>", "juliet@localhost");
        Assert.Equal("iVBORw0KGgo=", data.Element("pubsub", PS)!.Element("items")!.Element("item")!.Element("data", Data)!.Text);
        var later = await LoginAsync("romeo", "later", Meta);
        var last = await EventAsync(later, "juliet@localhost");
        Assert.Equal("abc123", last.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.GetAttribute("id"));
    }

    [Fact]
    public async Task User_nickname_reaches_contacts_and_arrives_on_login()
    {
        const string Nick = "http://jabber.org/protocol/nick";
        var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo", "r", Nick);
        await SubscribeToPresenceAsync(romeo, juliet);
        Assert.Equal("result", (await PublishAsync(juliet, Nick, $"<nick xmlns='{Nick}'>Jules</nick>")).GetAttribute("type"));
        var ev = await EventAsync(romeo, "juliet@localhost");
        Assert.Equal("Jules", ev.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.Element("nick", Nick)!.Text);
        var later = await LoginAsync("romeo", "later", Nick);
        var last = await EventAsync(later, "juliet@localhost");
        Assert.Equal("Jules", last.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.Element("nick", Nick)!.Text);
    }
}

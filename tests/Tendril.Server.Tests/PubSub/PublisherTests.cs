using Tendril.Server.Features;
using Tendril.Server.Features.PubSub;

namespace Tendril.Server.Tests.PubSub;

/// <summary>XEP-0060 §7: publish (ids, preconditions, payload rules) and retract, and the notifications.</summary>
public sealed class PublisherTests : PubSubTestBase
{
    [Fact]
    public async Task Publish_reaches_every_subscriber_with_server_generated_or_given_ids()
    {
        var j = await LoginAsync("juliet");
        var subscribers = new[] { await LoginAsync("romeo"), await LoginAsync("nurse"), await LoginAsync("tybalt") };
        await CreateAsync(j, "news");
        foreach (var s in subscribers) await SubscribeAsync(s, "news");

        var id = await PublishAsync(j, "news", "<entry xmlns='urn:test'>one &amp; two</entry>");
        Assert.False(string.IsNullOrEmpty(id));
        foreach (var s in subscribers)
        {
            var m = await s.WaitForAsync(e => e.Name == "message");
            Assert.Equal(s.Jid, m.GetAttribute("to"));
            Assert.Equal(Service, m.GetAttribute("from"));
            var items = m.Element("event", PubSubNs.Event)!.Element("items")!;
            Assert.Equal("news", items.GetAttribute("node"));
            var item = items.Element("item")!;
            Assert.Equal(id, item.GetAttribute("id"));
            Assert.Equal("one & two", item.Element("entry", "urn:test")!.Text);
        }
        Assert.Equal("mine", await PublishAsync(j, "news", id: "mine"));
        foreach (var s in subscribers) Assert.Equal("mine", (await EventAsync(s)).Element("items")!.Element("item")!.GetAttribute("id"));
    }

    [Fact]
    public async Task Publish_errors_of_7_1_3()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news");
        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><publish node='news'><item><x xmlns='urn:t'/></item></publish></pubsub>", "auth", "forbidden");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><publish node='nope'><item><x xmlns='urn:t'/></item></publish></pubsub>", "cancel", "item-not-found");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><publish><item><x xmlns='urn:t'/></item></publish></pubsub>", "modify", "bad-request", "nodeid-required");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><publish node='news'><item><x xmlns='urn:t'/><y xmlns='urn:t'/></item></publish></pubsub>", "modify", "bad-request", "invalid-payload");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><publish node='news'/></pubsub>", "modify", "bad-request", "item-required");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><publish node='news'><item/></publish></pubsub>", "modify", "bad-request", "payload-required");
        var big = new string('x', 70_000);
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><publish node='news'><item><x xmlns='urn:t'>{big}</x></item></publish></pubsub>", "modify", "not-acceptable", "payload-too-big");

        // publish_model=open lets anyone publish.
        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><configure node='news'>{Form(PubSubNs.NodeConfig, Field("pubsub#publish_model", "open"))}</configure></pubsub>");
        await PublishAsync(r, "news");
    }

    [Fact]
    public async Task Publish_options_preconditions()
    {
        var j = await LoginAsync("juliet");
        await CreateAsync(j, "news", Field("pubsub#access_model", "whitelist"));
        string Publish(string fields) => $"<pubsub xmlns='{PS}'><publish node='news'><item><x xmlns='urn:t'/></item></publish><publish-options>{Form(PubSubNs.PublishOptions, fields)}</publish-options></pubsub>";
        await OkAsync(j, "set", Publish(Field("pubsub#access_model", "whitelist")));
        await ErrorAsync(j, "set", Publish(Field("pubsub#access_model", "open")), "cancel", "conflict", "precondition-not-met");
        await ErrorAsync(j, "set", Publish(Field("pubsub#unknown_thing", "1")), "cancel", "conflict", "precondition-not-met");
    }

    [Fact]
    public async Task Retract_notifies_and_its_errors()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news");
        await SubscribeAsync(r, "news");
        var id = await PublishAsync(j, "news");
        await EventAsync(r);

        await ErrorAsync(r, "set", $"<pubsub xmlns='{PS}'><retract node='news'><item id='{id}'/></retract></pubsub>", "auth", "forbidden");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><retract node='news'/></pubsub>", "modify", "bad-request", "item-required");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><retract><item id='{id}'/></retract></pubsub>", "modify", "bad-request", "nodeid-required");
        await ErrorAsync(j, "set", $"<pubsub xmlns='{PS}'><retract node='news'><item id='nope'/></retract></pubsub>", "cancel", "item-not-found");
        await OkAsync(j, "set", $"<pubsub xmlns='{PS}'><retract node='news' notify='true'><item id='{id}'/></retract></pubsub>");
        var retract = (await EventAsync(r)).Element("items")!.Element("retract")!;
        Assert.Equal(id, retract.GetAttribute("id"));
        var items = await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='news'/></pubsub>");
        Assert.Empty(items.Element("pubsub", PS)!.Element("items")!.Els("item"));
    }

    [Fact]
    public async Task Max_items_keeps_the_newest_and_deliver_payloads_off_sends_ids_only()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news", Field("pubsub#max_items", "2") + Field("pubsub#deliver_payloads", "0"));
        await SubscribeAsync(r, "news");
        foreach (var id in new[] { "a", "b", "c" }) await PublishAsync(j, "news", id: id);
        for (var i = 0; i < 3; i++)
        {
            var item = (await EventAsync(r)).Element("items")!.Element("item")!;
            Assert.False(item.HasChildren);
        }
        var items = await OkAsync(r, "get", $"<pubsub xmlns='{PS}'><items node='news'/></pubsub>");
        Assert.Equal(["c", "b"], items.Element("pubsub", PS)!.Element("items")!.Els("item").Select(i => i.GetAttribute("id")));
    }
}

using Tendril.Server.Features;
using Tendril.Server.Features.PubSub;
using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.PubSub;

/// <summary>Nodes, configuration, items, subscriptions and affiliations survive a restart on the same database.</summary>
public sealed class PersistenceTests : PubSubTestBase
{
    [Fact]
    public async Task Everything_survives_a_restart()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateAsync(j, "news", Field("pubsub#title", "News") + Field("pubsub#max_items", "2"));
        await CreateAsync(j, "private", Field("pubsub#access_model", "authorize"));
        await SubscribeAsync(r, "news");
        await SubscribeAsync(r, "private"); // pending
        await OkAsync(j, "set", $"<pubsub xmlns='{Owner}'><affiliations node='news'><affiliation jid='nurse@localhost' affiliation='publisher'/></affiliations></pubsub>");
        foreach (var id in new[] { "a", "b", "c" }) await PublishAsync(j, "news", $"<entry xmlns='urn:test'>{id}</entry>", id);

        var directory = Server.Directory;
        Server.KeepDirectory = true;
        await j.DisposeAsync();
        await r.DisposeAsync();
        await Server.DisposeAsync();

        await using var restarted = await TestServer.StartAsync(directory: directory);
        await using var j2 = restarted.Connect();
        await j2.LoginAsync("juliet", "pw", "r");
        await using var n2 = restarted.Connect();
        await n2.LoginAsync("nurse", "pw", "r");
        await using var r2 = restarted.Connect();
        await r2.LoginAsync("romeo", "pw", "r", presence: false); // the subscription is to romeo@localhost/r

        var form = (await OkAsync(j2, "get", $"<pubsub xmlns='{Owner}'><configure node='news'/></pubsub>")).Element("pubsub", Owner)!.Element("configure")!.Element("x", "jabber:x:data")!;
        Assert.Equal("News", form.Els("field").First(f => f.GetAttribute("var") == "pubsub#title").Element("value")!.Text);
        var items = await OkAsync(j2, "get", $"<pubsub xmlns='{PS}'><items node='news'/></pubsub>");
        Assert.Equal(["c", "b"], items.Element("pubsub", PS)!.Element("items")!.Els("item").Select(i => i.GetAttribute("id")));
        var subs = (await OkAsync(j2, "get", $"<pubsub xmlns='{Owner}'><subscriptions node='private'/></pubsub>")).Element("pubsub", Owner)!.Element("subscriptions")!;
        Assert.Equal("pending", Assert.Single(subs.Els("subscription")).GetAttribute("subscription"));

        // romeo's subscription is still there: becoming available brings the last item, and new publishes arrive.
        await r2.SendAsync("<presence/>");
        var last = await r2.WaitForAsync(e => e.Element("event", PubSubNs.Event) is not null);
        Assert.Equal("c", last.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.GetAttribute("id"));
        // nurse is still a publisher.
        await PublishAsync(n2, "news", id: "d");
        var ev = await r2.WaitForAsync(e => e.Element("event", PubSubNs.Event)?.Element("items")?.Element("item")?.GetAttribute("id") == "d");
        Assert.NotNull(ev);
        System.IO.Directory.Delete(directory, recursive: true);
    }
}

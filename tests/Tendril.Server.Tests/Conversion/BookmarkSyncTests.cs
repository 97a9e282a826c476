using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Tests.Pep;
using Tendril.Xml;

namespace Tendril.Server.Tests.Conversion;

/// <summary>XEP-0402 §5: XEP-0048 bookmarks in private XML storage and PEP native bookmarks kept in step, without loops.</summary>
public sealed class BookmarkSyncTests : PepTestBase
{
    private const string B = "urn:xmpp:bookmarks:1";
    private const string L = "storage:bookmarks";

    private async Task<Dictionary<string, XmlElement>> ItemsAsync(TestClient c)
    {
        var r = await OkAsync(c, "get", $"<pubsub xmlns='{PS}'><items node='{B}'/></pubsub>", "juliet@localhost");
        var map = new Dictionary<string, XmlElement>();
        foreach (var i in r.Element("pubsub", PS)!.Element("items", PS)!.Elements("item", PS)) map[i.GetAttribute("id")!] = i.Element("conference", B)!;
        return map;
    }

    private async Task<List<XmlElement>> PrivateAsync(TestClient c)
    {
        var r = await OkAsync(c, "get", $"<query xmlns='jabber:iq:private'><storage xmlns='{L}'/></query>");
        var list = new List<XmlElement>();
        foreach (var conf in r.Element("query", "jabber:iq:private")!.Element("storage", L)!.Elements("conference")) list.Add(conf);
        return list;
    }

    [Fact]
    public async Task Account_advertises_compat()
    {
        var juliet = await LoginAsync("juliet");
        var info = await OkAsync(juliet, "get", $"<query xmlns='{Ns.DiscoInfo}'/>", "juliet@localhost");
        var vars = new List<string?>();
        foreach (var f in info.Element("query", Ns.DiscoInfo)!.Elements("feature")) vars.Add(f.GetAttribute("var"));
        Assert.Contains("urn:xmpp:bookmarks:1#compat", vars);
    }

    [Fact]
    public async Task Private_storage_bookmarks_are_published_to_pep_and_vanished_ones_retracted_without_rewriting_private_storage()
    {
        var juliet = await LoginAsync("juliet");
        await OkAsync(juliet, "set", $"<query xmlns='jabber:iq:private'><storage xmlns='{L}'>" +
            "<conference jid='council@conference.localhost' name='Council' autojoin='true'><nick>J</nick><password>secret</password></conference>" +
            "<conference jid='garden@conference.localhost' name='Garden'/></storage></query>");
        var items = await ItemsAsync(juliet);
        Assert.Equal(2, items.Count);
        var council = items["council@conference.localhost"];
        Assert.Equal("Council", council.GetAttribute("name"));
        Assert.Equal("true", council.GetAttribute("autojoin"));
        Assert.Equal("J", council.Element("nick", B)!.Text);
        Assert.Equal("secret", council.Element("password", B)!.Text);
        Assert.Null(items["garden@conference.localhost"].GetAttribute("autojoin"));

        // The node got the XEP-0402 configuration.
        var config = await OkAsync(juliet, "get", $"<pubsub xmlns='{PubSubNsOwner}'><configure node='{B}'/></pubsub>", "juliet@localhost");
        Assert.Contains("whitelist", config.ToString());

        // No loop: the PEP publications did not rewrite the private copy (which would add autojoin='false').
        var stored = await PrivateAsync(juliet);
        Assert.Equal(2, stored.Count);
        Assert.Null(stored[1].GetAttribute("autojoin"));

        await OkAsync(juliet, "set", $"<query xmlns='jabber:iq:private'><storage xmlns='{L}'><conference jid='garden@conference.localhost' name='Garden'/></storage></query>");
        Assert.Equal(["garden@conference.localhost"], (await ItemsAsync(juliet)).Keys);
    }

    [Fact]
    public async Task Pep_publish_and_retract_rewrite_private_storage_without_republishing()
    {
        var juliet = await LoginAsync("juliet", "r");
        var watcher = await LoginAsync("juliet", "w", B);
        await OkAsync(juliet, "set", $"<query xmlns='jabber:iq:private'><storage xmlns='{L}'><url name='Site' url='https://example.org/'/></storage></query>");
        var options = Field("pubsub#persist_items", "true") + Field("pubsub#max_items", "max") + Field("pubsub#send_last_published_item", "never") + Field("pubsub#access_model", "whitelist");
        var published = await PublishAsync(juliet, B, $"<conference xmlns='{B}' name='Balcony' autojoin='true'><nick>Jules</nick></conference>", "balcony@conference.localhost", options);
        Assert.Equal("result", published.GetAttribute("type"));
        await EventAsync(watcher, "juliet@localhost");
        await AssertNoEventAsync(watcher); // the private-storage rewrite did not publish again

        var conf = Assert.Single(await PrivateAsync(juliet));
        Assert.Equal("balcony@conference.localhost", conf.GetAttribute("jid"));
        Assert.Equal("Balcony", conf.GetAttribute("name"));
        Assert.Equal("true", conf.GetAttribute("autojoin"));
        Assert.Equal("Jules", conf.Element("nick")!.Text);
        var r = await OkAsync(juliet, "get", $"<query xmlns='jabber:iq:private'><storage xmlns='{L}'/></query>");
        Assert.NotNull(r.Element("query", "jabber:iq:private")!.Element("storage", L)!.Element("url")); // URL bookmarks kept

        await OkAsync(juliet, "set", $"<pubsub xmlns='{PS}'><retract node='{B}' notify='true'><item id='balcony@conference.localhost'/></retract></pubsub>");
        await EventAsync(watcher, "juliet@localhost");
        Assert.Empty(await PrivateAsync(juliet));
        await AssertNoEventAsync(watcher);
    }

    private const string PubSubNsOwner = "http://jabber.org/protocol/pubsub#owner";
}

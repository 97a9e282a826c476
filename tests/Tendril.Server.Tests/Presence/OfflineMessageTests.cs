using Tendril.Protocol;
using Tendril.Server.Configuration;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Presence;

/// <summary>Offline messages (RFC 6121 §8.5.2.2, XEP-0160) with delay stamps (XEP-0203) and the per-user quota.</summary>
public sealed class OfflineMessageTests : ImTestBase
{
    protected override void Configure(TendrilOptions options) => options.Offline.MaxPerUser = 3;

    private static string Body(XmlElement m) => m.Element("body")!.Text;

    [Fact]
    public async Task Messages_are_stored_with_a_delay_and_delivered_in_order_at_the_next_initial_presence()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync("<message to='romeo@localhost' type='chat' id='m1'><body>one</body></message>");
        Assert.Empty(await DrainAsync(juliet));
        Server.Time!.Advance(TimeSpan.FromMinutes(1));
        await juliet.SendAsync("<message to='romeo@localhost'><body>two</body></message>"); // no type: normal
        await juliet.SendAsync("<message to='romeo@localhost/gone' type='chat'><body>three</body></message>"); // falls back to the bare JID
        Assert.Empty(await DrainAsync(juliet)); // stored: no error
        Assert.Equal(3, await Server.Storage.Offline.CountAsync("localhost", "romeo"));

        // Bound without presence: nothing yet (XEP-0160 delivers on available presence).
        await using var romeo = await LoginAsync("romeo", "garden", presence: false);
        Assert.DoesNotContain(await DrainAsync(romeo), e => e.Name == "message");
        await romeo.SendAsync("<presence/>");
        var messages = (await DrainAsync(romeo)).Where(e => e.Name == "message").ToList();
        Assert.Equal(["one", "two", "three"], messages.Select(Body));
        var first = messages[0];
        Assert.Equal("juliet@localhost/balcony", first.GetAttribute("from"));
        Assert.Equal("m1", first.GetAttribute("id"));
        var delay = first.Element("delay", Ns.Delay)!;
        Assert.Equal("localhost", delay.GetAttribute("from"));
        Assert.Equal("2026-01-01T00:00:00Z", delay.GetAttribute("stamp"));
        Assert.Equal("2026-01-01T00:01:00Z", messages[1].Element("delay", Ns.Delay)!.GetAttribute("stamp"));
        Assert.Equal(0, await Server.Storage.Offline.CountAsync("localhost", "romeo"));

        // Delivered once: another resource coming online gets nothing more.
        await using var second = await LoginAsync("romeo", "second");
        Assert.DoesNotContain(await DrainAsync(second), e => e.Name == "message");
    }

    [Fact]
    public async Task Beyond_the_quota_the_sender_gets_service_unavailable()
    {
        await using var juliet = await LoginAsync("juliet");
        for (var i = 0; i < 3; i++) await juliet.SendAsync($"<message to='romeo@localhost' type='chat'><body>{i}</body></message>");
        await juliet.SendAsync("<message to='romeo@localhost' type='chat' id='over'><body>too many</body></message>");
        var error = Assert.Single(await DrainAsync(juliet));
        AssertError(error, "service-unavailable", "cancel");
        Assert.Equal("over", error.GetAttribute("id"));
        Assert.Equal("romeo@localhost", error.GetAttribute("from"));
        Assert.Contains("offline storage is full", error.Element("error")!.Element("text", Ns.Stanzas)!.Text, StringComparison.Ordinal);
        Assert.Equal(3, await Server.Storage.Offline.CountAsync("localhost", "romeo"));
    }

    [Theory]
    [InlineData("headline", false)]
    [InlineData("error", false)]
    [InlineData("groupchat", true)]
    public async Task Headline_groupchat_and_error_are_not_stored(string type, bool bounced)
    {
        await using var juliet = await LoginAsync("juliet");
        await juliet.SendAsync($"<message to='romeo@localhost' type='{type}'><body>x</body></message>");
        var got = await DrainAsync(juliet);
        if (bounced) AssertError(Assert.Single(got), "service-unavailable", "cancel");
        else Assert.Empty(got);
        Assert.Equal(0, await Server.Storage.Offline.CountAsync("localhost", "romeo"));
    }

    [Fact]
    public async Task A_negative_priority_resource_does_not_receive_offline_messages()
    {
        await using var juliet = await LoginAsync("juliet");
        await juliet.SendAsync("<message to='romeo@localhost' type='chat'><body>wait for me</body></message>");
        await DrainAsync(juliet);
        await using var hidden = await LoginAsync("romeo", "hidden", priority: -5);
        Assert.DoesNotContain(await DrainAsync(hidden), e => e.Name == "message");
        Assert.Equal(1, await Server.Storage.Offline.CountAsync("localhost", "romeo"));
        await using var visible = await LoginAsync("romeo", "visible", presence: false);
        await visible.SendAsync("<presence><priority>0</priority></presence>");
        Assert.Equal("wait for me", Body(Assert.Single(await DrainAsync(visible), e => e.Name == "message")));
    }

    [Fact]
    public async Task Disco_advertises_msgoffline()
    {
        await using var juliet = await LoginAsync("juliet");
        await juliet.SendAsync("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
        var info = (await juliet.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == "d")).Element("query", Ns.DiscoInfo)!;
        var vars = new List<string>();
        foreach (var f in info.Elements("feature")) vars.Add(f.GetAttribute("var")!);
        Assert.Contains("msgoffline", vars);
    }
}

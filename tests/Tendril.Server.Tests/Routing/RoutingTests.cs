using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Routing;

/// <summary>Local delivery (RFC 6121 §8.5 basics, RFC 6120 §8, §10) and the core server features.</summary>
public sealed class RoutingTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        await _server.AddUserAsync("juliet", "pw1");
        await _server.AddUserAsync("romeo", "pw2");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<TestClient> LoginAsync(string user, string resource, bool presence = true, int? priority = null)
    {
        var c = _server.Connect();
        await c.LoginAsync(user, user == "juliet" ? "pw1" : "pw2", resource, presence: false);
        if (presence)
        {
            await c.SendAsync(priority is null ? "<presence/>" : $"<presence><priority>{priority}</priority></presence>");
            await c.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == c.Jid);
        }
        return c;
    }

    private static void AssertError(XmlElement stanza, string condition, string type)
    {
        Assert.Equal("error", stanza.GetAttribute("type"));
        var error = stanza.Element("error")!;
        Assert.Equal(type, error.GetAttribute("type"));
        Assert.NotNull(error.Element(condition, Ns.Stanzas));
    }

    [Fact]
    public async Task Message_to_full_jid_is_delivered_with_stamped_from_both_ways()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await using var romeo = await LoginAsync("romeo", "garden");
        await juliet.SendAsync("<message to='romeo@localhost/garden' type='chat' id='j1'><body>Wherefore art thou?</body></message>");
        var m = await romeo.WaitForAsync(e => e.Name == "message");
        Assert.Equal("juliet@localhost/balcony", m.GetAttribute("from"));
        Assert.Equal("romeo@localhost/garden", m.GetAttribute("to"));
        Assert.Equal("Wherefore art thou?", m.Element("body")!.Text);
        await romeo.SendAsync("<message to='juliet@localhost/balcony' type='chat'><body>Here &amp; now &lt;3</body></message>");
        var r = await juliet.WaitForAsync(e => e.Name == "message");
        Assert.Equal("romeo@localhost/garden", r.GetAttribute("from"));
        Assert.Equal("Here & now <3", r.Element("body")!.Text);
    }

    [Fact]
    public async Task From_equal_to_own_bare_jid_is_accepted_and_stamped_full()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await using var romeo = await LoginAsync("romeo", "garden");
        await juliet.SendAsync("<message from='juliet@localhost' to='romeo@localhost/garden'><body>x</body></message>");
        var m = await romeo.WaitForAsync(e => e.Name == "message");
        Assert.Equal("juliet@localhost/balcony", m.GetAttribute("from"));
    }

    [Fact]
    public async Task Messages_of_one_stream_arrive_in_order()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await using var romeo = await LoginAsync("romeo", "garden");
        var batch = new System.Text.StringBuilder();
        for (var i = 0; i < 200; i++) batch.Append($"<message to='romeo@localhost/garden'><body>{i}</body></message>");
        await juliet.SendAsync(System.Text.Encoding.UTF8.GetBytes(batch.ToString()), 97);
        for (var i = 0; i < 200; i++)
        {
            var m = await romeo.WaitForAsync(e => e.Name == "message");
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), m.Element("body")!.Text);
        }
    }

    [Fact]
    public async Task Message_to_bare_jid_goes_to_highest_priority_and_not_to_negative()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await using var low = await LoginAsync("romeo", "low", priority: 1);
        await using var high = await LoginAsync("romeo", "high", priority: 5);
        await using var negative = await LoginAsync("romeo", "negative", priority: -1);
        await juliet.SendAsync("<message to='romeo@localhost' type='chat'><body>to the best</body></message>");
        var m = await high.WaitForAsync(e => e.Name == "message");
        Assert.Equal("to the best", m.Element("body")!.Text);
        // A ping round trip on the others proves nothing was queued for them before it.
        foreach (var other in new[] { low, negative })
        {
            await other.SendAsync("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>");
            var next = await other.WaitForAsync(e => e.Name is "message" or "iq");
            Assert.Equal("iq", next.Name);
        }
    }

    [Fact]
    public async Task Headline_to_bare_jid_goes_to_every_non_negative_resource()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await using var a = await LoginAsync("romeo", "a", priority: 1);
        await using var b = await LoginAsync("romeo", "b", priority: 0);
        await juliet.SendAsync("<message to='romeo@localhost' type='headline'><body>news</body></message>");
        Assert.Equal("news", (await a.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
        Assert.Equal("news", (await b.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
    }

    [Fact]
    public async Task Message_to_unknown_user_is_service_unavailable()
    {
        // (A message to an existing account with no available resource is stored offline: see OfflineMessageTests.)
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync("<message to='nobody@localhost' type='chat' id='x1'><body>anyone?</body></message>");
        var e1 = await juliet.WaitForAsync(e => e.Name == "message");
        AssertError(e1, "service-unavailable", "cancel");
        Assert.Equal("x1", e1.GetAttribute("id"));
        Assert.Equal("nobody@localhost", e1.GetAttribute("from"));
        Assert.Equal("anyone?", e1.Element("body")!.Text); // the original payload comes back
        await juliet.SendAsync("<message to='nobody@localhost/res' type='chat' id='x2'><body>?</body></message>");
        AssertError(await juliet.WaitForAsync(e => e.Name == "message"), "service-unavailable", "cancel");
    }

    [Fact]
    public async Task Message_to_missing_resource_falls_back_to_bare_jid()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await using var romeo = await LoginAsync("romeo", "garden");
        await juliet.SendAsync("<message to='romeo@localhost/gone' type='chat'><body>fallback</body></message>");
        Assert.Equal("fallback", (await romeo.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
    }

    [Fact]
    public async Task Remote_domain_is_remote_server_not_found()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync("<message to='someone@example.org' id='r1'><body>hi</body></message>");
        AssertError(await juliet.WaitForAsync(e => e.Name == "message"), "remote-server-not-found", "cancel");
    }

    [Fact]
    public async Task Malformed_to_is_jid_malformed()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync("<message to='a@b@c' id='r1'><body>hi</body></message>");
        AssertError(await juliet.WaitForAsync(e => e.Name == "message"), "jid-malformed", "modify");
    }

    [Fact]
    public async Task Iq_with_unknown_namespace_to_server_or_bare_jid_is_service_unavailable()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync("<iq type='get' id='u1' to='localhost'><query xmlns='urn:example:unknown'/></iq>");
        var e1 = await juliet.WaitForAsync(e => e.Name == "iq");
        AssertError(e1, "service-unavailable", "cancel");
        Assert.Equal("u1", e1.GetAttribute("id"));
        Assert.Equal("localhost", e1.GetAttribute("from"));
        await juliet.SendAsync("<iq type='get' id='u2' to='romeo@localhost'><query xmlns='urn:example:unknown'/></iq>");
        AssertError(await juliet.WaitForAsync(e => e.Name == "iq"), "service-unavailable", "cancel");
        await juliet.SendAsync("<iq type='set' id='u3'><query xmlns='urn:example:unknown'/></iq>");
        var e3 = await juliet.WaitForAsync(e => e.Name == "iq");
        AssertError(e3, "service-unavailable", "cancel");
        Assert.Null(e3.GetAttribute("from")); // answered on behalf of the account (RFC 6120 §8.1.2.1)
    }

    [Fact]
    public async Task Iq_to_missing_full_jid_is_service_unavailable()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync("<iq type='get' id='m1' to='romeo@localhost/nowhere'><ping xmlns='urn:xmpp:ping'/></iq>");
        AssertError(await juliet.WaitForAsync(e => e.Name == "iq"), "service-unavailable", "cancel");
    }

    [Fact]
    public async Task Iq_between_clients_and_its_result_are_routed()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await using var romeo = await LoginAsync("romeo", "garden");
        await juliet.SendAsync("<iq type='get' id='v1' to='romeo@localhost/garden'><query xmlns='jabber:iq:version'/></iq>");
        var request = await romeo.WaitForAsync(e => e.Name == "iq");
        Assert.Equal("juliet@localhost/balcony", request.GetAttribute("from"));
        await romeo.SendAsync("<iq type='result' id='v1' to='juliet@localhost/balcony'><query xmlns='jabber:iq:version'><name>Romeo</name></query></iq>");
        var result = await juliet.WaitForAsync(e => e.Name == "iq");
        Assert.Equal("result", result.GetAttribute("type"));
        Assert.Equal("romeo@localhost/garden", result.GetAttribute("from"));
        Assert.Equal("Romeo", result.Element("query")!.Element("name")!.Text);
    }

    [Theory]
    [InlineData("<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>")]
    [InlineData("<iq type='get' id='b1'/>")]
    [InlineData("<iq type='set' id='b2'><a xmlns='x'/><b xmlns='x'/></iq>")]
    [InlineData("<iq type='bogus' id='b3'><ping xmlns='urn:xmpp:ping'/></iq>")]
    public async Task Invalid_iq_is_bad_request(string xml)
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync(xml);
        AssertError(await juliet.WaitForAsync(e => e.Name == "iq"), "bad-request", "modify");
    }

    [Fact]
    public async Task Ping_and_version_are_answered_by_the_server()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        var pong = await juliet.WaitForAsync(e => e.Name == "iq");
        Assert.Equal("result", pong.GetAttribute("type"));
        Assert.Equal("p1", pong.GetAttribute("id"));
        await juliet.SendAsync("<iq type='get' id='v1' to='localhost'><query xmlns='jabber:iq:version'/></iq>");
        var version = await juliet.WaitForAsync(e => e.Name == "iq");
        Assert.Equal("Tendril", version.Element("query", Ns.Version)!.Element("name")!.Text);
        Assert.False(string.IsNullOrEmpty(version.Element("query", Ns.Version)!.Element("version")!.Text));
    }

    [Fact]
    public async Task Disco_info_lists_exactly_the_registered_features()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
        var info = (await juliet.WaitForAsync(e => e.Name == "iq")).Element("query", Ns.DiscoInfo)!;
        var identity = info.Element("identity")!;
        Assert.Equal("server", identity.GetAttribute("category"));
        Assert.Equal("im", identity.GetAttribute("type"));
        var vars = new List<string>();
        foreach (var f in info.Elements("feature")) vars.Add(f.GetAttribute("var")!);
        string[] expected =
        [
            Ns.DiscoInfo, Ns.DiscoItems, Ns.Version, Ns.Ping, "msgoffline", "http://jabber.org/protocol/caps",
            "urn:xmpp:time", "jabber:iq:last",
            "vcard-temp", "jabber:iq:private", "urn:xmpp:blocking", "urn:xmpp:carbons:2", "jabber:iq:register",
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), vars);
        await juliet.SendAsync("<iq type='get' id='d2' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
        var items = await juliet.WaitForAsync(e => e.Name == "iq");
        Assert.Equal("result", items.GetAttribute("type"));
        Assert.NotNull(items.Element("query", Ns.DiscoItems));
        await juliet.SendAsync("<iq type='get' id='d3' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='nope'/></iq>");
        AssertError(await juliet.WaitForAsync(e => e.Name == "iq"), "item-not-found", "cancel");
    }

    [Fact]
    public async Task Presence_goes_to_own_resources_and_directed_presence_gets_unavailable_on_disconnect()
    {
        await using var romeo = await LoginAsync("romeo", "garden");
        await using var juliet1 = await LoginAsync("juliet", "one");
        var juliet2 = await LoginAsync("juliet", "two");
        // juliet1 sees juliet2's available presence (own resources).
        var seen = await juliet1.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == "juliet@localhost/two");
        Assert.Null(seen.GetAttribute("type"));
        // Directed presence to romeo, then a dead connection: romeo and juliet1 learn juliet2 is gone.
        await juliet2.SendAsync("<presence to='romeo@localhost/garden'/>");
        var directed = await romeo.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == "juliet@localhost/two");
        Assert.Null(directed.GetAttribute("type"));
        await juliet2.DisposeAsync();
        var gone = await romeo.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == "juliet@localhost/two");
        Assert.Equal("unavailable", gone.GetAttribute("type"));
        var gone1 = await juliet1.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == "juliet@localhost/two" && e.GetAttribute("type") == "unavailable");
        Assert.NotNull(gone1);
    }

    [Fact]
    public async Task Idle_session_is_pinged_and_closed_with_connection_timeout_when_silent()
    {
        await using var romeo = await LoginAsync("romeo", "garden");
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync("<presence to='romeo@localhost/garden'/>");
        await romeo.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == "juliet@localhost/balcony");

        _server.AdvanceAndTick(TimeSpan.FromSeconds(301));
        // Both idle sessions get an XEP-0199 ping from the server.
        var ping = await juliet.WaitForAsync(e => e.Name == "iq");
        Assert.Equal("get", ping.GetAttribute("type"));
        Assert.NotNull(ping.Element("ping", Ns.Ping));
        Assert.Equal("localhost", ping.GetAttribute("from"));
        var romeoPing = await romeo.WaitForAsync(e => e.Name == "iq");
        // Romeo answers and stays; Juliet is silent (a dead peer) and is cut off.
        await romeo.SendAsync($"<iq type='result' id='{romeoPing.GetAttribute("id")}' to='localhost'/>");
        for (var i = 0; i < 200; i++)
        {
            await Task.Delay(5);
            if (_server.Server.Sessions.Find(Jid.Parse("romeo@localhost/garden")) is { } s && s.Stream.QueueDepth == 0) break;
        }
        await Task.Delay(50);
        _server.AdvanceAndTick(TimeSpan.FromSeconds(61));
        await juliet.ExpectStreamErrorAsync("connection-timeout");
        var unavailable = await romeo.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == "juliet@localhost/balcony");
        Assert.Equal("unavailable", unavailable.GetAttribute("type"));
        Assert.NotNull(_server.Server.Sessions.Find(Jid.Parse("romeo@localhost/garden")));
    }
}

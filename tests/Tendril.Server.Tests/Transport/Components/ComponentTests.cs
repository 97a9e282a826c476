using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Tendril.Protocol;
using Tendril.Server.Configuration;
using Tendril.Server.Transport.Components;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Tests.PubSub;
using Tendril.Xml;

namespace Tendril.Server.Tests.Transport.Components;

/// <summary>XEP-0114 external components over a real socket: handshake, routing both ways, and every refusal.</summary>
public sealed class ComponentTests : IAsyncLifetime
{
    private const string Cns = "jabber:component:accept";
    private const string Secret = "s3cret";
    private TestServer _server = null!;
    private readonly List<IAsyncDisposable> _owned = [];

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(o =>
        {
            o.Components.Port = 0;
            o.Components.Services = [new ComponentServiceOptions { Domain = "bot.localhost", Secret = Secret }, new ComponentServiceOptions { Domain = "idle.localhost", Secret = "x" }];
        }, listen: true);
        await _server.AddUserAsync("juliet", "pw");
    }

    public async Task DisposeAsync()
    {
        foreach (var o in _owned) await o.DisposeAsync();
        await _server.DisposeAsync();
    }

    private async Task<TestClient> OpenAsync(string domain)
    {
        var endPoint = _server.Server.ServerFeatures.OfType<ComponentFeature>().Single().EndPoint!;
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        var c = new TestClient(new NetworkStream(socket, ownsSocket: true));
        _owned.Add(c);
        await c.SendAsync($"<?xml version='1.0'?><stream:stream xmlns='{Cns}' xmlns:stream='http://etherx.jabber.org/streams' to='{domain}'>");
        return c;
    }

    private static string Handshake(string streamId, string secret) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(streamId + secret)));

    private async Task<TestClient> ConnectAsync(string domain = "bot.localhost", string secret = Secret)
    {
        var c = await OpenAsync(domain);
        var header = await c.ExpectStreamHeaderAsync();
        Assert.Equal(domain, header.GetAttribute("from"));
        await c.SendAsync($"<handshake>{Handshake(header.GetAttribute("id")!, secret)}</handshake>");
        var ok = await c.NextAsync();
        Assert.True(ok.Is("handshake", Cns) && !ok.HasChildren, $"Expected an empty handshake, got {ok}");
        return c;
    }

    private async Task<TestClient> JulietAsync()
    {
        var juliet = _server.Connect();
        _owned.Add(juliet);
        await juliet.LoginAsync("juliet", "pw", "r");
        return juliet;
    }

    [Fact]
    public async Task A_component_handshakes_and_exchanges_stanzas_with_users_and_the_server()
    {
        var bot = await ConnectAsync();
        var juliet = await JulietAsync();

        await juliet.SendAsync("<message to='echo@bot.localhost' type='chat' id='m1'><body>hi bot</body></message>");
        var got = await bot.WaitForAsync(e => e.Name == "message");
        Assert.Equal(Cns, got.Namespace); // written in the component's namespace
        Assert.Equal("juliet@localhost/r", got.GetAttribute("from"));
        Assert.Equal("hi bot", got.Element("body")!.Text);

        await bot.SendAsync("<message from='echo@bot.localhost' to='juliet@localhost/r' type='chat'><body>hi juliet</body></message>");
        var reply = await juliet.WaitForAsync(e => e.Name == "message");
        Assert.Equal(Ns.Client, reply.Namespace);
        Assert.Equal("echo@bot.localhost", reply.GetAttribute("from"));
        Assert.Equal("hi juliet", reply.Element("body")!.Text);
        Assert.Equal(Ns.Client, reply.Element("body")!.Namespace);

        // The component asks the server (the answer comes back to it) and is listed among the server's items.
        await bot.SendAsync($"<iq type='get' id='d1' from='bot.localhost' to='localhost'><query xmlns='{Ns.DiscoInfo}'/></iq>");
        var info = await bot.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == "d1");
        Assert.Equal("result", info.GetAttribute("type"));
        Assert.Equal("bot.localhost", info.GetAttribute("to"));
        await juliet.SendAsync($"<iq type='get' id='d2' to='localhost'><query xmlns='{Ns.DiscoItems}'/></iq>");
        var items = await juliet.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == "d2");
        Assert.Contains(items.Element("query", Ns.DiscoItems)!.Els("item"), i => i.GetAttribute("jid") == "bot.localhost");

        // An iq from a user to the component and its answer.
        await juliet.SendAsync("<iq type='get' id='v1' to='bot.localhost'><query xmlns='jabber:iq:version'/></iq>");
        var asked = await bot.WaitForAsync(e => e.Name == "iq");
        await bot.SendAsync($"<iq type='result' id='{asked.GetAttribute("id")}' from='bot.localhost' to='juliet@localhost/r'><query xmlns='jabber:iq:version'><name>Bot</name></query></iq>");
        var answered = await juliet.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == "v1");
        Assert.Equal("Bot", answered.Element("query", "jabber:iq:version")!.Element("name")!.Text);
    }

    [Fact]
    public async Task A_wrong_secret_is_not_authorized()
    {
        var c = await OpenAsync("bot.localhost");
        var header = await c.ExpectStreamHeaderAsync();
        await c.SendAsync($"<handshake>{Handshake(header.GetAttribute("id")!, "guess")}</handshake>");
        await c.ExpectStreamErrorAsync("not-authorized");
    }

    [Fact]
    public async Task Stanzas_before_the_handshake_are_not_authorized()
    {
        var c = await OpenAsync("bot.localhost");
        await c.ExpectStreamHeaderAsync();
        await c.SendAsync("<message from='bot.localhost' to='juliet@localhost'><body>early</body></message>");
        await c.ExpectStreamErrorAsync("not-authorized");
    }

    [Fact]
    public async Task An_unknown_domain_is_host_unknown()
    {
        var c = await OpenAsync("nope.localhost");
        await c.ExpectStreamErrorAsync("host-unknown");
    }

    [Fact]
    public async Task A_client_namespace_is_invalid_on_the_component_port()
    {
        var endPoint = _server.Server.ServerFeatures.OfType<ComponentFeature>().Single().EndPoint!;
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        await using var c = new TestClient(new NetworkStream(socket, ownsSocket: true));
        await c.SendAsync(c.Header("bot.localhost"));
        await c.ExpectStreamErrorAsync("invalid-namespace");
    }

    [Fact]
    public async Task A_second_connection_for_the_same_domain_is_a_conflict()
    {
        await ConnectAsync();
        var second = await OpenAsync("bot.localhost");
        var header = await second.ExpectStreamHeaderAsync();
        await second.SendAsync($"<handshake>{Handshake(header.GetAttribute("id")!, Secret)}</handshake>");
        await second.ExpectStreamErrorAsync("conflict");
    }

    [Fact]
    public async Task A_component_may_not_speak_for_another_domain()
    {
        var bot = await ConnectAsync();
        await bot.SendAsync("<message from='juliet@localhost' to='juliet@localhost/r'><body>spoof</body></message>");
        await bot.ExpectStreamErrorAsync("invalid-from");
    }

    [Fact]
    public async Task Bad_input_from_a_component_gets_the_standard_errors()
    {
        var bot = await ConnectAsync();
        // An iq without an id: bad-request, and the stream stays up.
        await bot.SendAsync("<iq type='get' from='bot.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        var bad = await bot.WaitForAsync(e => e.Name == "iq");
        Assert.NotNull(bad.Element("error")!.Element("bad-request", Ns.Stanzas));
        await bot.SendAsync("<iq type='get' id='p' from='bot.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        Assert.Equal("result", (await bot.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == "p")).GetAttribute("type"));
        // No 'to': improper-addressing.
        await bot.SendAsync("<message from='bot.localhost'><body>where to?</body></message>");
        await bot.ExpectStreamErrorAsync("improper-addressing");

        var other = await ConnectAsync("idle.localhost", "x");
        await other.SendAsync("<foo xmlns='urn:example'/>");
        await other.ExpectStreamErrorAsync("unsupported-stanza-type");
    }

    [Fact]
    public async Task Requests_to_a_component_that_is_not_connected_bounce_and_it_can_connect_after_another_left()
    {
        var juliet = await JulietAsync();
        await juliet.SendAsync("<message to='idle.localhost' id='m' type='chat'><body>anyone?</body></message>");
        var bounced = await juliet.WaitForAsync(e => e.Name == "message");
        Assert.NotNull(bounced.Element("error")!.Element("service-unavailable", Ns.Stanzas));
        await juliet.SendAsync("<iq to='idle.localhost' id='i' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
        var iq = await juliet.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == "i");
        Assert.NotNull(iq.Element("error")!.Element("service-unavailable", Ns.Stanzas));

        // A component that closes its stream frees the domain for the next connection.
        var first = await ConnectAsync("idle.localhost", "x");
        await first.SendAsync("</stream:stream>");
        var feature = _server.Server.ServerFeatures.OfType<ComponentFeature>().Single();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (feature.Connected.Contains("idle.localhost"))
        {
            Assert.True(DateTime.UtcNow < deadline, "The component's domain was not released.");
            await Task.Delay(10);
        }
        var again = await ConnectAsync("idle.localhost", "x");
        await juliet.SendAsync("<message to='idle.localhost' type='chat'><body>now?</body></message>");
        Assert.Equal("now?", (await again.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
    }
}

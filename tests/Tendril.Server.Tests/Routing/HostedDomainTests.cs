using Tendril.Protocol;
using Tendril.Server.Features;
using Tendril.Server.Routing;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Routing;

/// <summary>Services on their own domain (e.g. pubsub.localhost) and serialize-once fan-out.</summary>
public sealed class HostedDomainTests
{
    /// <summary>echo.localhost: answers a message by broadcasting it, serialized once, to every session of the sender's account.</summary>
    private sealed class EchoService : IServerFeature
    {
        public void Register(FeatureRegistry registry)
        {
            registry.AddDiscoItem(new DiscoItem("echo." + registry.Domain, "Echo"));
            registry.AddHostedDomain("echo." + registry.Domain, (stanza, from, to, origin) =>
            {
                if (stanza.Name != "message" || origin is null) return ValueTask.CompletedTask;
                var reply = new XmlElement("message", Ns.Client).SetAttribute("from", to.ToString()).SetAttribute("type", "headline");
                reply.AddElement("body").Add("echo: " + stanza.Element("body")?.Text);
                var once = new SerializedStanza(reply);
                foreach (var s in origin.Stream.Server.Sessions.FindAll(from)) origin.Stream.Server.Delivery.TryDeliver(s, once);
                return ValueTask.CompletedTask;
            });
        }
    }

    [Fact]
    public async Task Stanzas_to_a_hosted_domain_reach_its_handler_and_fan_out_serialized_once()
    {
        await using var server = await TestServer.StartAsync(extraFeatures: [new EchoService()]);
        await server.AddUserAsync("juliet", "pw");
        await using var a = server.Connect();
        await a.LoginAsync("juliet", "pw", "a");
        await using var b = server.Connect();
        await b.LoginAsync("juliet", "pw", "b");

        await a.SendAsync("<message to='echo.localhost'><body>x &amp; y</body></message>");
        foreach (var (client, jid) in new[] { (a, "juliet@localhost/a"), (b, "juliet@localhost/b") })
        {
            var m = await client.WaitForAsync(e => e.Name == "message");
            Assert.Equal(jid, m.GetAttribute("to"));
            Assert.Equal("echo.localhost", m.GetAttribute("from"));
            Assert.Equal("echo: x & y", m.Element("body")!.Text);
        }

        await a.SendAsync("<iq type='get' id='i' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
        var items = await a.WaitForAsync(e => e.Name == "iq");
        var listed = new List<string?>();
        foreach (var item in items.Element("query", Ns.DiscoItems)!.Elements("item")) listed.Add(item.GetAttribute("jid"));
        Assert.Contains("echo.localhost", listed); // beside the server's own services (pubsub, upload)

        // Other unknown domains are still remote.
        await a.SendAsync("<message to='nope.localhost' id='r'><body>?</body></message>");
        var error = await a.WaitForAsync(e => e.Name == "message");
        Assert.NotNull(error.Element("error")!.Element("remote-server-not-found", Ns.Stanzas));
    }
}

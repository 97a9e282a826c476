using Tendril.Protocol;
using Tendril.Server.Features;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Routing;

/// <summary>The router's stanza filters: outbound (what clients send) and inbound (what reaches an account).</summary>
public sealed class StanzaFilterTests
{
    private sealed class Filters : IServerFeature
    {
        public List<string> Seen { get; } = [];

        public void Register(FeatureRegistry registry)
        {
            registry.AddOutboundFilter((origin, stanza, to) =>
            {
                lock (Seen) Seen.Add("out:" + stanza.Name + ":" + (to?.ToString() ?? "-"));
                if (stanza.Element("body")?.Text == "stop-out") return new(StanzaFilterResult.Drop);
                if (stanza.Element("body") is { } body && body.Text == "rewrite") body.SetText("rewritten");
                return new(StanzaFilterResult.Continue);
            });
            registry.AddInboundFilter(async (stanza, from, to) =>
            {
                await Task.Yield(); // an asynchronous filter works too
                lock (Seen) Seen.Add("in:" + stanza.Name + ":" + from.Bare + ">" + to);
                return stanza.Element("body")?.Text == "stop-in" ? StanzaFilterResult.Drop : StanzaFilterResult.Continue;
            });
        }
    }

    [Fact]
    public async Task Filters_see_and_can_stop_or_modify_stanzas()
    {
        var filters = new Filters();
        await using var server = await TestServer.StartAsync(extraFeatures: [filters]);
        await server.AddUserAsync("juliet", "pw");
        await server.AddUserAsync("romeo", "pw");
        await using var juliet = server.Connect();
        await juliet.LoginAsync("juliet", "pw", "r");
        await using var romeo = server.Connect();
        await romeo.LoginAsync("romeo", "pw", "r");

        await juliet.SendAsync("<message to='romeo@localhost/r' type='chat'><body>stop-out</body></message>");
        await juliet.SendAsync("<message to='romeo@localhost/r' type='chat'><body>stop-in</body></message>");
        await juliet.SendAsync("<message to='romeo@localhost/r' type='chat'><body>rewrite</body></message>");
        var received = await romeo.WaitForAsync(e => e.Name == "message");
        Assert.Equal("rewritten", received.Element("body")!.Text);
        lock (filters.Seen)
        {
            Assert.Contains("out:message:romeo@localhost/r", filters.Seen);
            Assert.Equal(2, filters.Seen.Count(s => s == "in:message:juliet@localhost>romeo@localhost/r"));
        }
    }
}

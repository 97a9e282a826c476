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
            registry.AddOutboundFilter(StanzaKinds.All, StanzaStage.Observe, (origin, stanza, to) =>
            {
                lock (Seen) Seen.Add("out:" + stanza.Name + ":" + (to?.ToString() ?? "-"));
                if (stanza.Element("body")?.Text == "stop-out") return new(StanzaFilterResult.Drop);
                if (stanza.Element("body") is { } body && body.Text == "rewrite") body.SetText("rewritten");
                return new(StanzaFilterResult.Continue);
            });
            registry.AddInboundFilter(StanzaKinds.All, StanzaStage.Observe, async (stanza, from, to) =>
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

    /// <summary>Registers filters out of stage order and for single kinds, recording each call.</summary>
    private sealed class StagedFilters : IServerFeature
    {
        public List<string> Calls { get; } = [];

        public void Register(FeatureRegistry registry)
        {
            registry.AddOutboundFilter(StanzaKinds.Message, StanzaStage.Copy, Outbound("copy"));
            registry.AddOutboundFilter(StanzaKinds.Message, StanzaStage.Access, Outbound("access"));
            registry.AddOutboundFilter(StanzaKinds.Presence, StanzaStage.Stamp, Outbound("presence-only"));
            registry.AddOutboundFilter(StanzaKinds.Message, StanzaStage.Archive, Outbound("archive"));
            registry.AddInboundFilter(StanzaKinds.Message | StanzaKinds.Iq, StanzaStage.Archive, Inbound("in-archive"));
            registry.AddInboundFilter(StanzaKinds.Message, StanzaStage.Access, Inbound("in-access"));
        }

        private OutboundStanzaFilter Outbound(string name) => (origin, stanza, to) =>
        {
            if (to?.Local == "romeo") lock (Calls) Calls.Add(name + ":" + stanza.Name);
            return new(StanzaFilterResult.Continue);
        };

        private InboundStanzaFilter Inbound(string name) => (stanza, from, to) =>
        {
            if (to.Local == "romeo") lock (Calls) Calls.Add(name + ":" + stanza.Name);
            return new(StanzaFilterResult.Continue);
        };
    }

    [Fact]
    public async Task Filters_run_by_stage_not_registration_order_and_only_for_their_kinds()
    {
        var filters = new StagedFilters();
        await using var server = await TestServer.StartAsync(extraFeatures: [filters]);
        await server.AddUserAsync("juliet", "pw");
        await server.AddUserAsync("romeo", "pw");
        await using var juliet = server.Connect();
        await juliet.LoginAsync("juliet", "pw", "r");
        await using var romeo = server.Connect();
        await romeo.LoginAsync("romeo", "pw", "r");

        await juliet.SendAsync("<presence to='romeo@localhost/r'/>");
        await romeo.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == "juliet@localhost/r");
        await juliet.SendAsync("<message to='romeo@localhost/r' type='chat'><body>hi</body></message>");
        await romeo.WaitForAsync(e => e.Name == "message");
        lock (filters.Calls)
        {
            Assert.Equal(
                ["presence-only:presence", "access:message", "archive:message", "copy:message", "in-access:message", "in-archive:message"],
                filters.Calls);
        }
    }
}

using Tendril.Protocol;
using Tendril.Server.Configuration;
using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Security;

/// <summary>Issue 19 (low): per-account caps on PEP nodes and private XML namespaces.</summary>
public sealed class AccountCapTests : ImTestBase
{
    protected override void Configure(TendrilOptions options)
    {
        options.PubSub.MaxNodesPerAccount = 3;
        options.PrivateStorage.MaxNamespaces = 2;
    }

    [Fact]
    public async Task An_account_creates_nodes_up_to_its_cap_then_gets_max_nodes_exceeded()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        for (var i = 1; i <= 3; i++)
        {
            var ok = await IqAsync(juliet, "set", $"<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:n{i}'><item><x xmlns='urn:example'/></item></publish></pubsub>");
            Assert.Equal("result", ok.GetAttribute("type"));
        }
        var refused = await IqAsync(juliet, "set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:n4'><item><x xmlns='urn:example'/></item></publish></pubsub>");
        Assert.Equal("error", refused.GetAttribute("type"));
        var error = refused.Element("error")!;
        Assert.NotNull(error.Element("not-allowed", Ns.Stanzas));
        Assert.NotNull(error.Element("max-nodes-exceeded", "http://jabber.org/protocol/pubsub#errors"));
        // Publishing to a node that exists still works; so do nodes of another account.
        Assert.Equal("result", (await IqAsync(juliet, "set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:n1'><item><x xmlns='urn:example'/></item></publish></pubsub>")).GetAttribute("type"));
        var romeo = await LoginAsync("romeo", roster: false);
        Assert.Equal("result", (await IqAsync(romeo, "set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:n4'><item><x xmlns='urn:example'/></item></publish></pubsub>")).GetAttribute("type"));
    }

    [Fact]
    public async Task Private_storage_keeps_at_most_its_cap_of_namespaces_and_replacing_one_is_allowed()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        Assert.Equal("result", (await IqAsync(juliet, "set", "<query xmlns='jabber:iq:private'><a xmlns='urn:example:a'/></query>")).GetAttribute("type"));
        Assert.Equal("result", (await IqAsync(juliet, "set", "<query xmlns='jabber:iq:private'><b xmlns='urn:example:b'/></query>")).GetAttribute("type"));
        var refused = await IqAsync(juliet, "set", "<query xmlns='jabber:iq:private'><c xmlns='urn:example:c'/></query>");
        Assert.NotNull(refused.Element("error")!.Element("policy-violation", Ns.Stanzas));
        Assert.Equal("result", (await IqAsync(juliet, "set", "<query xmlns='jabber:iq:private'><a xmlns='urn:example:a'>2</a></query>")).GetAttribute("type"));
    }
}

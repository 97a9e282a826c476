using Tendril.Server.Features;
using Tendril.Protocol;
using Tendril.Server.Features.Disco;
using Tendril.Server.Features.Pep;
using Tendril.Server.Features.PubSub;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Tests.PubSub;
using Tendril.Xml;

namespace Tendril.Server.Tests.Pep;

/// <summary>
/// XEP-0115 verification and caps changes for PEP's +notify (XEP-0163 §4.3), delete/purge events to implicit
/// subscribers (XEP-0060 §8.4, §8.5), and discovery of an account's PEP nodes (XEP-0060 §5 on the bare JID).
/// </summary>
public sealed class PepCapsAndDiscoveryTests : PepTestBase
{
    private const string Tune = "http://jabber.org/protocol/tune";
    private const string Nick = "http://jabber.org/protocol/nick";

    [Fact]
    public async Task A_forged_ver_is_not_cached_and_not_trusted_for_another_client()
    {
        var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo");
        await SubscribeToPresenceAsync(romeo, juliet);

        // The liar announces the real ver of a tune+notify client but answers with nick+notify only.
        var honest = CapsQuery([Tune], "Honest 1.0");
        var ver = EntityCapsHash.ComputeVer(honest, "sha-1")!;
        var liar = Server.Connect();
        await using var _ = liar;
        await liar.LoginAsync("romeo", "pw", "liar", presence: false);
        await liar.SendAsync(CapsPresence(ver));
        await AnswerCapsQueryAsync(liar, ver, CapsQuery([Nick], "Honest 1.0"));

        // Not cached under the ver, but used for the liar's own full JID: it gets nick events, not tune events.
        await PublishAsync(juliet, Nick, $"<nick xmlns='{Nick}'>Jules</nick>");
        var nick = await EventAsync(liar, "juliet@localhost");
        Assert.Equal(Nick, nick.Element("event", PubSubNs.Event)!.Element("items")!.GetAttribute("node"));
        Assert.Null(Pep.Caps.FeaturesOf(ver));

        // Another client announcing the same ver is asked itself (the forged answer is not trusted for it).
        var other = Server.Connect();
        await using var __ = other;
        await other.LoginAsync("romeo", "pw", "honest", presence: false);
        await other.SendAsync(CapsPresence(ver));
        await AnswerCapsQueryAsync(other, ver, honest);
        for (var i = 0; i < 1000 && Pep.Caps.FeaturesOf(ver) is null; i++) await Task.Delay(10);
        Assert.Contains(Tune + "+notify", Pep.Caps.FeaturesOf(ver)!); // verified: now cached for everyone

        await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'><title>Nocturne</title></tune>");
        var tune = await EventAsync(other, "juliet@localhost");
        Assert.Equal(Tune, tune.Element("event", PubSubNs.Event)!.Element("items")!.GetAttribute("node"));
        // Still judged by its own answer: no tune event (and the nick event came once: live, not again as the last item).
        await AssertNoEventAsync(liar);
    }

    [Fact]
    public async Task Logins_during_a_stream_of_publishes_get_each_item_once_and_the_newest_one()
    {
        // The login-time last-item send races the live notifications: each login must get every item at most once
        // (live, or as the node's last item, never both) and end up with the newest one.
        var juliet = await LoginAsync("juliet");
        var first = await LoginAsync("romeo", "r0");
        await SubscribeToPresenceAsync(first, juliet);
        var query = CapsQuery([Tune], "Player 1.0");
        var ver = EntityCapsHash.ComputeVer(query, "sha-1")!;
        await first.SendAsync(CapsPresence(ver));
        await AnswerCapsQueryAsync(first, ver, query); // verified: cached for the logins below, no round trip

        using var stop = new CancellationTokenSource();
        var published = 0;
        var publisher = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var n = published;
                Assert.Equal("result", (await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'><track>{n}</track></tune>", "t" + n)).GetAttribute("type"));
                published = n + 1;
            }
        });
        var logins = new List<TestClient>();
        for (var i = 1; i <= 20; i++)
        {
            var c = Server.Connect();
            logins.Add(c);
            await c.LoginAsync("romeo", "pw", "r" + i, presence: false);
            await c.SendAsync(CapsPresence(ver));
            await Task.Delay(5);
        }
        await stop.CancelAsync();
        await publisher;
        var newest = "t" + (published - 1);
        foreach (var c in logins)
        {
            await using var _ = c;
            var seen = new HashSet<string>();
            await c.SendAsync("<iq type='get' id='drain' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
            while (await c.WaitForAsync(e => (e.Name == "message" && e.Element("event", PubSubNs.Event) is not null) || (e.Name == "iq" && e.GetAttribute("id") == "drain")) is { Name: "message" } m)
            {
                var id = m.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.GetAttribute("id")!;
                Assert.True(seen.Add(id), $"{c.Jid} got item {id} twice");
            }
            Assert.Contains(newest, seen);
        }
    }

    [Fact]
    public async Task An_unknown_hash_function_is_asked_and_trusted_for_that_client_only()
    {
        var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo");
        await SubscribeToPresenceAsync(romeo, juliet);
        var c = Server.Connect();
        await using var _ = c;
        await c.LoginAsync("romeo", "pw", "odd", presence: false);
        await c.SendAsync(CapsPresence("not-a-hash", "whirlpool"));
        await AnswerCapsQueryAsync(c, "not-a-hash", CapsQuery([Tune]));
        await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'/>");
        await EventAsync(c, "juliet@localhost");
        Assert.Null(Pep.Caps.FeaturesOf("not-a-hash"));
    }

    [Fact]
    public async Task A_ver_changed_mid_session_is_queried_and_enables_notifications_with_the_last_item()
    {
        var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo"); // no +notify at first
        await SubscribeToPresenceAsync(romeo, juliet);
        await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'><title>Before</title></tune>", "t1");
        await AssertNoEventAsync(romeo);

        // The client turns tune notifications on: a new ver in a later available presence.
        var query = CapsQuery([Tune]);
        var ver = EntityCapsHash.ComputeVer(query, "sha-1")!;
        await romeo.SendAsync(CapsPresence(ver));
        await AnswerCapsQueryAsync(romeo, ver, query);
        var last = await EventAsync(romeo, "juliet@localhost");
        var item = last.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!;
        Assert.Equal("t1", item.GetAttribute("id"));
        Assert.NotNull(last.Element("delay", Ns.Delay)); // the last published item, from before

        await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'><title>After</title></tune>", "t2");
        var live = await EventAsync(romeo, "juliet@localhost");
        Assert.Equal("t2", live.Element("event", PubSubNs.Event)!.Element("items")!.Element("item")!.GetAttribute("id"));

        // And off again (a known ver this time, no query): no more events.
        var off = CapsQuery([]);
        var offVer = EntityCapsHash.ComputeVer(off, "sha-1")!;
        await romeo.SendAsync(CapsPresence(offVer));
        await AnswerCapsQueryAsync(romeo, offVer, off);
        for (var i = 0; i < 1000 && Pep.Caps.FeaturesOf(offVer) is null; i++) await Task.Delay(10);
        await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'/>", "t3");
        await AssertNoEventAsync(romeo);
    }

    [Fact]
    public async Task Delete_and_purge_reach_contacts_with_notify_not_only_subscribers()
    {
        var juliet = await LoginAsync("juliet", "r", Tune);
        var romeo = await LoginAsync("romeo", "r", Tune);
        var nurse = await LoginAsync("nurse", "r", Tune);
        await SubscribeToPresenceAsync(romeo, juliet);
        await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'/>", "t1");
        await EventAsync(romeo, "juliet@localhost");

        await OkAsync(juliet, "set", $"<pubsub xmlns='{PubSubNs.Owner}'><purge node='{Tune}'/></pubsub>");
        var purge = await EventAsync(romeo, "juliet@localhost");
        Assert.Equal(Tune, purge.Element("event", PubSubNs.Event)!.Element("purge")!.GetAttribute("node"));

        await OkAsync(juliet, "set", $"<pubsub xmlns='{PubSubNs.Owner}'><delete node='{Tune}'/></pubsub>");
        var delete = await EventAsync(romeo, "juliet@localhost");
        Assert.Equal(Tune, delete.Element("event", PubSubNs.Event)!.Element("delete")!.GetAttribute("node"));
        await AssertNoEventAsync(nurse); // no presence subscription: nothing
    }

    [Fact]
    public async Task Pep_nodes_are_discovered_on_the_bare_jid_by_access_model()
    {
        const string Open = "urn:example:open";
        const string Private = "urn:example:private";
        var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo");
        var nurse = await LoginAsync("nurse");
        await SubscribeToPresenceAsync(romeo, juliet);
        await PublishAsync(juliet, Tune, $"<tune xmlns='{Tune}'/>", "t1"); // presence access
        await PublishAsync(juliet, Open, $"<x xmlns='{Open}'/>", "o1", Field("pubsub#access_model", "open"));
        await PublishAsync(juliet, Private, $"<x xmlns='{Private}'/>", "p1", Field("pubsub#access_model", "whitelist"));

        async Task<List<string?>> NodesAsync(TestClient who)
        {
            var r = await OkAsync(who, "get", $"<query xmlns='{Ns.DiscoItems}'/>", "juliet@localhost");
            var items = r.Element("query", Ns.DiscoItems)!.Els("item");
            Assert.All(items, i => Assert.Equal("juliet@localhost", i.GetAttribute("jid")));
            return [.. items.Select(i => i.GetAttribute("node"))];
        }
        Assert.Equal([Tune, Open, Private], await NodesAsync(juliet)); // ordinal order
        Assert.Equal([Tune, Open], await NodesAsync(romeo));
        Assert.Equal([Open], await NodesAsync(nurse));

        // Node info (§5.3) and items (§5.5) from the PEP service, answered from the bare JID.
        var info = await OkAsync(romeo, "get", $"<query xmlns='{Ns.DiscoInfo}' node='{Tune}'/>", "juliet@localhost");
        Assert.Equal("juliet@localhost", info.GetAttribute("from"));
        var q = info.Element("query", Ns.DiscoInfo)!;
        Assert.Equal(Tune, q.GetAttribute("node"));
        Assert.Contains(q.Els("identity"), i => i.GetAttribute("category") == "pubsub" && i.GetAttribute("type") == "leaf");
        var items = await OkAsync(romeo, "get", $"<query xmlns='{Ns.DiscoItems}' node='{Tune}'/>", "juliet@localhost");
        Assert.Equal(["t1"], items.Element("query", Ns.DiscoItems)!.Els("item").Select(i => i.GetAttribute("name")));

        // What a requester may not see looks absent; unknown nodes are absent.
        AssertError(await IqAsync(romeo, "get", $"<query xmlns='{Ns.DiscoInfo}' node='{Private}'/>", "juliet@localhost"), "item-not-found");
        AssertError(await IqAsync(nurse, "get", $"<query xmlns='{Ns.DiscoItems}' node='{Tune}'/>", "juliet@localhost"), "item-not-found");
        AssertError(await IqAsync(romeo, "get", $"<query xmlns='{Ns.DiscoInfo}' node='urn:nope'/>", "juliet@localhost"), "item-not-found");
        var own = await OkAsync(juliet, "get", $"<query xmlns='{Ns.DiscoInfo}' node='{Private}'/>", "juliet@localhost");
        Assert.Equal(Private, own.Element("query", Ns.DiscoInfo)!.GetAttribute("node"));

        // The account's own info: for contacts with a presence subscription (with the PEP identity), not for strangers.
        var account = await OkAsync(romeo, "get", $"<query xmlns='{Ns.DiscoInfo}'/>", "juliet@localhost");
        Assert.Contains(account.Element("query", Ns.DiscoInfo)!.Els("identity"), i => i.GetAttribute("category") == "pubsub" && i.GetAttribute("type") == "pep");
        AssertError(await IqAsync(nurse, "get", $"<query xmlns='{Ns.DiscoInfo}'/>", "juliet@localhost"), "service-unavailable");
        // No such account: service-unavailable (RFC 6121 §8.5.1), for items too.
        AssertError(await IqAsync(romeo, "get", $"<query xmlns='{Ns.DiscoItems}'/>", "ghost@localhost"), "service-unavailable");
        AssertError(await IqAsync(romeo, "get", $"<query xmlns='{Ns.DiscoInfo}' node='{Tune}'/>", "ghost@localhost"), "service-unavailable");
    }
}

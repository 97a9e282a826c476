using Tendril.Client;
using Tendril.Cluster.Tests.Infrastructure;
using Tendril.Protocol;
using Tendril.Tests.Infrastructure;
using Tendril.Tests.Support;
using Tendril.Xml;

namespace Tendril.Cluster.Tests;

/// <summary>Three real nodes on one Redis and one PostgreSQL database, shared by the tests of <see cref="ClusterTests"/> (each uses its own accounts).</summary>
public sealed class ThreeNodeCluster : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ClusterHarness? _harness;

    public ClusterHarness Harness => _harness ?? throw new InvalidOperationException("Not started.");

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Starts the cluster once (the PostgreSQL server is a collection fixture, which a class fixture cannot take).</summary>
    public async Task EnsureStartedAsync(PostgresServer postgres)
    {
        await _gate.WaitAsync();
        try
        {
            _harness ??= await StartAsync(postgres);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static Task<ClusterHarness> StartAsync(PostgresServer postgres) =>
        ClusterHarness.StartAsync(postgres, 3, "alice@localhost", "bob@localhost", "carol@localhost", "dave@localhost", "erin@localhost", "fred@localhost", "gina@localhost", "hank@localhost",
            "olga@localhost", "pete@localhost", "rita@localhost", "sam@localhost", "yuri@localhost", "zoe@localhost", "paul@localhost", "quin@localhost",
            "vera@localhost", "walt@localhost", "uma@localhost", "vic@localhost", "wade@localhost", "xena@localhost", "ivan@localhost", "kim@localhost", "lou@localhost");

    public async Task DisposeAsync()
    {
        if (_harness is not null) await _harness.DisposeAsync();
    }

    public Task<XmppClient> ConnectAsync(int node, string user, string? resource = null) =>
        Harness.Nodes[node].ConnectAsync(user + "@localhost", ClusterHarness.Password, resource);
}

[Collection(PostgresCollection.Name)]
public sealed class ClusterTests(ThreeNodeCluster cluster, PostgresFixture postgres) : IClassFixture<ThreeNodeCluster>, IAsyncLifetime
{
    public Task InitializeAsync() => cluster.EnsureStartedAsync(postgres.Server);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Users_on_different_nodes_subscribe_chat_and_see_each_others_presence()
    {
        await using var alice = await cluster.ConnectAsync(0, "alice", "phone");
        await using var bob = await cluster.ConnectAsync(1, "bob", "laptop");
        var pushes = System.Threading.Channels.Channel.CreateUnbounded<XmlElement>();
        alice.SetIqHandler("query", Ns.Roster, (iq, _) =>
        {
            pushes.Writer.TryWrite(iq);
            return ValueTask.FromResult<XmlElement?>(null);
        });
        await alice.RequestRosterAsync();
        await alice.OnlineAsync();
        await bob.OnlineAsync();

        await ClientSteps.SubscribeMutuallyAsync(alice, bob);
        // The roster push for bob's approval was made on bob's node and reached alice's node as an account event.
        using (var cts = new CancellationTokenSource(ClientSteps.Wait))
        {
            while (true)
            {
                var push = await pushes.Reader.ReadAsync(cts.Token);
                var item = push.Element("query", Ns.Roster)?.Element("item");
                if (item?.GetAttribute("jid") == "bob@localhost" && item.GetAttribute("subscription") == "both") break;
            }
        }

        // Chat both ways: to the bare JID and to the full JID on the other node.
        await alice.SendMessageAsync(Jid.Parse("bob@localhost"), "hello from node 1");
        var got = await bob.WaitMessageAsync("hello from node 1");
        Assert.Equal("alice@localhost/phone", got.GetAttribute("from"));
        await bob.SendMessageAsync(Jid.Parse("alice@localhost/phone"), "hello from node 2");
        Assert.Equal("bob@localhost/laptop", (await alice.WaitMessageAsync("hello from node 2")).GetAttribute("from"));

        // A presence change on node 2 reaches the contact on node 1.
        await bob.SendPresenceAsync(status: "in a meeting", show: "dnd");
        await alice.WaitForAsync(s => s.Name == "presence" && s.GetAttribute("from") == "bob@localhost/laptop" && s.Element("status")?.Text == "in a meeting", ClientSteps.Wait);

        // A new session of alice on node 3 is answered bob's presence from the routing table (probe, RFC 6121 §4.3.2).
        await using var alice2 = await cluster.ConnectAsync(2, "alice", "tablet");
        await alice2.OnlineAsync();
        var probed = await alice2.WaitForAsync(s => s.Name == "presence" && s.GetAttribute("from") == "bob@localhost/laptop", ClientSteps.Wait);
        Assert.Equal("in a meeting", probed.Element("status")?.Text);
        // …and alice's other resource (node 1) sees the new one come online.
        await alice.WaitPresenceAsync("alice@localhost/tablet", null);

        // Unavailable on logout crosses nodes too.
        await bob.SendPresenceAsync(type: "unavailable");
        await alice.WaitPresenceAsync("bob@localhost/laptop", "unavailable");
        await alice2.WaitPresenceAsync("bob@localhost/laptop", "unavailable");
    }

    [Fact]
    public async Task A_bare_jid_message_goes_to_the_highest_priority_resource_across_nodes_and_iq_round_trips()
    {
        await using var low = await cluster.ConnectAsync(0, "carol", "low");
        await using var high = await cluster.ConnectAsync(1, "carol", "high");
        await using var negative = await cluster.ConnectAsync(2, "carol", "negative");
        await using var dave = await cluster.ConnectAsync(2, "dave", "desk");
        await low.OnlineAsync(priority: 1);
        await high.OnlineAsync(priority: 5);
        await negative.OnlineAsync(priority: -1);
        // The three presences went through the routing table: wait until node 3 (dave's) knows them, seen as carol's own
        // resources receiving each other's presence.
        await negative.WaitPresenceAsync("carol@localhost/high", null);
        await negative.WaitPresenceAsync("carol@localhost/low", null);

        await dave.SendMessageAsync(Jid.Parse("carol@localhost"), "to the best resource");
        await high.WaitMessageAsync("to the best resource");
        // The others did not get it: the next message each gets (addressed to its full JID) is the marker, not the first one.
        await dave.SendMessageAsync(Jid.Parse("carol@localhost/low"), "marker low");
        await dave.SendMessageAsync(Jid.Parse("carol@localhost/negative"), "marker negative");
        var firstLow = await low.WaitForAsync(s => s.Name == "message", ClientSteps.Wait);
        var firstNegative = await negative.WaitForAsync(s => s.Name == "message", ClientSteps.Wait);
        Assert.Equal("marker low", firstLow.Element("body")?.Text);
        Assert.Equal("marker negative", firstNegative.Element("body")?.Text);

        // An iq to a full JID on another node, answered by that client, comes back to the requester.
        low.SetIqHandler("query", "jabber:iq:version", (iq, _) =>
        {
            var query = new XmlElement("query", "jabber:iq:version");
            query.AddElement("name").Add("carol-client");
            return ValueTask.FromResult<XmlElement?>(query);
        });
        var request = new XmlElement("iq", Ns.Client).SetAttribute("type", "get").SetAttribute("to", "carol@localhost/low");
        request.AddElement("query", "jabber:iq:version");
        var answer = await dave.SendIqAsync(request);
        Assert.Equal("result", answer.GetAttribute("type"));
        Assert.Equal("carol-client", answer.Element("query", "jabber:iq:version")?.Element("name")?.Text);
        Assert.Equal("carol@localhost/low", answer.GetAttribute("from"));

        // An iq to a resource that exists nowhere is answered service-unavailable.
        var missing = new XmlElement("iq", Ns.Client).SetAttribute("type", "get").SetAttribute("to", "carol@localhost/nowhere");
        missing.AddElement("query", "jabber:iq:version");
        var error = await Assert.ThrowsAsync<XmppStanzaException>(() => dave.SendIqAsync(missing));
        Assert.Contains("service-unavailable", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_full_jid_bound_on_another_node_replaces_the_older_session_with_conflict()
    {
        await using var first = await cluster.ConnectAsync(0, "erin", "same");
        await first.OnlineAsync();
        await using var second = await cluster.ConnectAsync(1, "erin", "same");
        // The older stream ends with <conflict/> (RFC 6120 §7.7.2.2); the newer one works.
        var ended = await first.Completion.WaitAsync(ClientSteps.Wait).ContinueWith(t => t.Exception?.InnerException);
        Assert.Contains("conflict", ended?.Message ?? "", StringComparison.OrdinalIgnoreCase);
        await second.OnlineAsync();
        await using var fred = await cluster.ConnectAsync(2, "fred", "x");
        await fred.SendMessageAsync(Jid.Parse("erin@localhost/same"), "to the newer session");
        await second.WaitMessageAsync("to the newer session");
    }

    [Fact]
    public async Task Carbons_cross_nodes_and_the_archive_stores_each_message_once_per_account()
    {
        await using var olgaA = await cluster.ConnectAsync(0, "olga", "a");
        await using var olgaB = await cluster.ConnectAsync(1, "olga", "b");
        await using var pete = await cluster.ConnectAsync(2, "pete", "p");
        foreach (var c in new[] { olgaA, olgaB })
        {
            var enable = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
            enable.AddElement("enable", "urn:xmpp:carbons:2");
            await c.SendIqAsync(enable);
        }
        await olgaA.OnlineAsync();
        await olgaB.OnlineAsync();
        await pete.OnlineAsync();
        await olgaA.WaitPresenceAsync("olga@localhost/b", null); // both resources are in every node's table

        await pete.SendMessageAsync(Jid.Parse("olga@localhost/a"), "to a, copied to b");
        await olgaA.WaitMessageAsync("to a, copied to b");
        var received = await olgaB.WaitForAsync(s => s.Name == "message" && s.Element("received", "urn:xmpp:carbons:2") is not null, ClientSteps.Wait);
        Assert.Equal("olga@localhost", received.GetAttribute("from"));
        Assert.Equal("to a, copied to b", received.Element("received", "urn:xmpp:carbons:2")!.Element("forwarded", "urn:xmpp:forward:0")!.Element("message")!.Element("body")!.Text);

        await olgaB.SendMessageAsync(Jid.Parse("pete@localhost"), "from b, copied to a");
        await pete.WaitMessageAsync("from b, copied to a");
        var sent = await olgaA.WaitForAsync(s => s.Name == "message" && s.Element("sent", "urn:xmpp:carbons:2") is not null, ClientSteps.Wait);
        Assert.Equal("from b, copied to a", sent.Element("sent", "urn:xmpp:carbons:2")!.Element("forwarded", "urn:xmpp:forward:0")!.Element("message")!.Element("body")!.Text);

        // MAM (XEP-0313): each message once in olga's archive and once in pete's, although three nodes handled them. The
        // queries run on nodes whose writers did not archive them (read-your-writes is per node): asked until complete.
        Assert.Equal(["to a, copied to b", "from b, copied to a"], await ClientSteps.ArchiveWhenAsync(olgaA, "pete@localhost", 2));
        Assert.Equal(["to a, copied to b", "from b, copied to a"], await ClientSteps.ArchiveWhenAsync(pete, "olga@localhost", 2));
    }

    [Fact]
    public async Task Roster_changes_and_account_removal_reach_the_users_sessions_on_other_nodes()
    {
        await using var samA = await cluster.ConnectAsync(0, "sam", "a");
        await using var samB = await cluster.ConnectAsync(1, "sam", "b");
        var pushes = System.Threading.Channels.Channel.CreateUnbounded<XmlElement>();
        samA.SetIqHandler("query", Ns.Roster, (iq, _) =>
        {
            pushes.Writer.TryWrite(iq);
            return ValueTask.FromResult<XmlElement?>(null);
        });
        await samA.RequestRosterAsync();
        await samA.OnlineAsync();
        await samB.OnlineAsync();
        await samA.WaitPresenceAsync("sam@localhost/b", null);

        var set = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
        set.AddElement("query", Ns.Roster).AddElement("item").SetAttribute("jid", "friend@localhost").SetAttribute("name", "Friend");
        await samB.SendIqAsync(set);
        using (var cts = new CancellationTokenSource(ClientSteps.Wait))
        {
            var push = await pushes.Reader.ReadAsync(cts.Token);
            Assert.Equal("Friend", push.Element("query", Ns.Roster)?.Element("item")?.GetAttribute("name"));
        }

        // XEP-0077 §3.2: removing the account on node 2 ends its sessions on node 1 too, with <not-authorized/>.
        await using var rita1 = await cluster.ConnectAsync(0, "rita", "one");
        await using var rita2 = await cluster.ConnectAsync(1, "rita", "two");
        await rita1.OnlineAsync();
        await rita2.OnlineAsync();
        await rita1.WaitPresenceAsync("rita@localhost/two", null);
        var remove = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
        remove.AddElement("query", "jabber:iq:register").AddElement("remove");
        await rita2.SendIqAsync(remove);
        var ended = await rita1.Completion.WaitAsync(ClientSteps.Wait).ContinueWith(t => t.Exception?.InnerException);
        Assert.Contains("not-authorized", ended?.Message ?? "", StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_block_made_on_one_node_is_pushed_to_and_enforced_on_another()
    {
        const string Blocking = "urn:xmpp:blocking";
        await using var veraA = await cluster.ConnectAsync(0, "vera", "a");
        await using var veraB = await cluster.ConnectAsync(1, "vera", "b");
        await using var walt = await cluster.ConnectAsync(1, "walt", "w");
        var pushes = System.Threading.Channels.Channel.CreateUnbounded<XmlElement>();
        veraB.SetIqHandler("block", Blocking, (iq, _) =>
        {
            pushes.Writer.TryWrite(iq);
            return ValueTask.FromResult<XmlElement?>(null);
        });
        veraB.SetIqHandler("unblock", Blocking, (iq, _) =>
        {
            pushes.Writer.TryWrite(iq);
            return ValueTask.FromResult<XmlElement?>(null);
        });
        // XEP-0191 §3.3: pushes go to resources that asked for the blocklist; asking also loads node 2's cached copy.
        var get = new XmlElement("iq", Ns.Client).SetAttribute("type", "get");
        get.AddElement("blocklist", Blocking);
        Assert.Null((await veraB.SendIqAsync(get)).Element("blocklist", Blocking)!.Element("item"));
        await veraA.OnlineAsync();
        await veraB.OnlineAsync();
        await walt.OnlineAsync();

        await walt.SendMessageAsync(Jid.Parse("vera@localhost/b"), "before the block");
        await veraB.WaitForAsync(s => s.Name == "message" && s.Element("body")?.Text == "before the block", ClientSteps.Wait);

        var block = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
        block.AddElement("block", Blocking).AddElement("item").SetAttribute("jid", "walt@localhost");
        await veraA.SendIqAsync(block);
        using (var cts = new CancellationTokenSource(ClientSteps.Wait))
        {
            var push = await pushes.Reader.ReadAsync(cts.Token);
            Assert.Equal("walt@localhost", push.Element("block", Blocking)?.Element("item")?.GetAttribute("jid"));
        }

        // Enforced on node 2, where walt and vera/b both are: walt's message is refused (§3.4.2), not delivered.
        await walt.SendMessageAsync(Jid.Parse("vera@localhost/b"), "after the block");
        var refused = await walt.WaitForAsync(s => s.Name == "message" && s.GetAttribute("type") == "error", ClientSteps.Wait);
        Assert.Equal("vera@localhost/b", refused.GetAttribute("from"));

        var unblock = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
        unblock.AddElement("unblock", Blocking).AddElement("item").SetAttribute("jid", "walt@localhost");
        await veraA.SendIqAsync(unblock);
        using (var cts = new CancellationTokenSource(ClientSteps.Wait))
        {
            var push = await pushes.Reader.ReadAsync(cts.Token);
            Assert.NotNull(push.Element("unblock", Blocking));
        }
        await walt.SendMessageAsync(Jid.Parse("vera@localhost/b"), "after the unblock");
        var delivered = await veraB.WaitForAsync(s => s.Name == "message" && s.GetAttribute("type") != "error" && s.Element("body") is not null && s.Element("body")!.Text != "before the block", ClientSteps.Wait);
        Assert.Equal("after the unblock", delivered.Element("body")?.Text);
    }

    [Fact]
    public async Task Archive_preferences_and_the_avatar_hash_changed_on_one_node_hold_on_another()
    {
        await using var kimA = await cluster.ConnectAsync(0, "kim", "a");
        await using var kimB = await cluster.ConnectAsync(1, "kim", "b");
        await using var lou = await cluster.ConnectAsync(1, "lou", "l");
        await kimA.OnlineAsync();
        await kimB.OnlineAsync();
        await lou.OnlineAsync();
        await ClientSteps.SubscribeMutuallyAsync(lou, kimB);

        // Node 2 archives lou's message for kim (the entering node decides), which loads its copy of kim's preferences.
        await lou.SendMessageAsync(Jid.Parse("kim@localhost/b"), "archived");
        await kimB.WaitMessageAsync("archived");
        // Kim says "never" on node 1 (XEP-0313 §6.1). A message from node 1 to lou follows the change on node 2's channel,
        // so once lou has it, node 2 has dropped its copy.
        var prefs = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
        prefs.AddElement("prefs", "urn:xmpp:mam:2").SetAttribute("default", "never");
        Assert.Equal("result", (await kimA.SendIqAsync(prefs)).GetAttribute("type"));
        await kimA.SendMessageAsync(Jid.Parse("lou@localhost/l"), "marker 1");
        await lou.WaitMessageAsync("marker 1");
        await lou.SendMessageAsync(Jid.Parse("kim@localhost/b"), "not archived");
        await kimB.WaitMessageAsync("not archived");
        // Queried on node 2, whose writer the query waits for (read-your-writes).
        Assert.Equal(["archived"], await ClientSteps.ArchiveAsync(kimB, "lou@localhost"));

        // XEP-0153: kim sets a vCard with a photo on node 1; kim/b's next presence, stamped on node 2, carries its hash.
        byte[] photo = [0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4];
        var vcard = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
        var photoElement = vcard.AddElement("vCard", "vcard-temp").AddElement("PHOTO");
        photoElement.AddElement("TYPE").Add("image/png");
        photoElement.AddElement("BINVAL").Add(Convert.ToBase64String(photo));
        Assert.Equal("result", (await kimA.SendIqAsync(vcard)).GetAttribute("type"));
        await kimA.SendMessageAsync(Jid.Parse("lou@localhost/l"), "marker 2");
        await lou.WaitMessageAsync("marker 2");
        await kimB.SendPresenceAsync(status: "new avatar");
        var presence = await lou.WaitForAsync(s => s.Name == "presence" && s.GetAttribute("from") == "kim@localhost/b" && s.Element("status")?.Text == "new avatar", ClientSteps.Wait);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(photo)), presence.Element("x", "vcard-temp:x:update")?.Element("photo")?.Text);
    }

    [Fact]
    public async Task Directed_presence_to_a_user_on_another_node_is_retracted_when_the_sender_disconnects()
    {
        await using var zoe = await cluster.ConnectAsync(2, "zoe", "z");
        await zoe.OnlineAsync();
        var yuri = await cluster.ConnectAsync(0, "yuri", "y");
        await yuri.OnlineAsync();
        // No subscription: only directed presence (RFC 6121 §4.6) reaches zoe.
        await yuri.SendPresenceAsync(Jid.Parse("zoe@localhost/z"), status: "just for you");
        var directed = await zoe.WaitForAsync(s => s.Name == "presence" && s.GetAttribute("from") == "yuri@localhost/y" && s.GetAttribute("type") is null, ClientSteps.Wait);
        Assert.Equal("just for you", directed.Element("status")?.Text);
        // §4.6.3: the session ends without unavailable presence; the server sends it to the directed-presence recipient.
        await yuri.DisposeAsync();
        await zoe.WaitPresenceAsync("yuri@localhost/y", "unavailable");
    }

    [Fact]
    public async Task A_pubsub_node_created_on_one_node_is_subscribed_on_another_and_its_items_reach_the_subscriber()
    {
        const string PubSub = "http://jabber.org/protocol/pubsub";
        await using var paul = await cluster.ConnectAsync(0, "paul", "p");
        await using var quin = await cluster.ConnectAsync(1, "quin", "q");
        await paul.OnlineAsync();
        await quin.OnlineAsync();
        var node = "news-" + Guid.NewGuid().ToString("N")[..6];

        var create = new XmlElement("iq", Ns.Client).SetAttribute("type", "set").SetAttribute("to", "pubsub.localhost");
        create.AddElement("pubsub", PubSub).AddElement("create").SetAttribute("node", node);
        await paul.SendIqAsync(create);

        // Each node caches the service; the creating node told the others to read it again. Until that arrived the
        // node may be unknown on node 2: the subscriber retries, as a client would after item-not-found.
        var deadline = DateTime.UtcNow + ClientSteps.Wait;
        while (true)
        {
            var subscribe = new XmlElement("iq", Ns.Client).SetAttribute("type", "set").SetAttribute("to", "pubsub.localhost");
            subscribe.AddElement("pubsub", PubSub).AddElement("subscribe").SetAttribute("node", node).SetAttribute("jid", "quin@localhost/q");
            try
            {
                await quin.SendIqAsync(subscribe);
                break;
            }
            catch (XmppStanzaException e) when (e.Message.Contains("item-not-found", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
        // The owner's node learns the subscription the same way: wait until its view lists it.
        while (true)
        {
            var query = new XmlElement("iq", Ns.Client).SetAttribute("type", "get").SetAttribute("to", "pubsub.localhost");
            query.AddElement("pubsub", PubSub + "#owner").AddElement("subscriptions").SetAttribute("node", node);
            var result = await paul.SendIqAsync(query);
            var listed = false;
            if (result.Element("pubsub", PubSub + "#owner")?.Element("subscriptions") is { } subscriptions)
            {
                foreach (var e in subscriptions.Elements()) listed |= e.GetAttribute("jid") == "quin@localhost/q";
            }
            if (listed) break;
            Assert.True(DateTime.UtcNow < deadline, "the subscription made on node 2 never reached node 1's view: " + Tendril.Xml.XmlWriter.ToXmlString(result));
            await Task.Delay(100);
        }

        var publish = new XmlElement("iq", Ns.Client).SetAttribute("type", "set").SetAttribute("to", "pubsub.localhost");
        publish.AddElement("pubsub", PubSub).AddElement("publish").SetAttribute("node", node)
            .AddElement("item").SetAttribute("id", "1").AddElement("entry", "urn:example").Add("across nodes");
        await paul.SendIqAsync(publish);
        var ev = await quin.WaitForAsync(s => s.Name == "message" && s.Element("event", PubSub + "#event") is not null, ClientSteps.Wait);
        Assert.Equal("across nodes", ev.Element("event", PubSub + "#event")!.Element("items")!.Element("item")!.Element("entry", "urn:example")!.Text);
    }

    [Fact]
    public async Task An_item_published_over_http_on_one_node_reaches_the_other_nodes_copy_of_the_service()
    {
        const string PubSub = "http://jabber.org/protocol/pubsub";
        await using var uma = await cluster.ConnectAsync(0, "uma", "u");
        await using var vic = await cluster.ConnectAsync(1, "vic", "v");
        await using var wade = await cluster.ConnectAsync(1, "wade", "w");
        await uma.OnlineAsync();
        await vic.OnlineAsync();
        await wade.OnlineAsync();
        var node = "http-" + Guid.NewGuid().ToString("N")[..6];
        var create = new XmlElement("iq", Ns.Client).SetAttribute("type", "set").SetAttribute("to", "pubsub.localhost");
        create.AddElement("pubsub", PubSub).AddElement("create").SetAttribute("node", node);
        await uma.SendIqAsync(create);

        // vic subscribes on node 2 (which thereby caches the service: no last item yet).
        var deadline = DateTime.UtcNow + ClientSteps.Wait;
        while (true)
        {
            try
            {
                await vic.SendIqAsync(Subscribe(node, "vic@localhost/v"));
                break;
            }
            catch (XmppStanzaException e) when (e.Message.Contains("item-not-found", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
        using var http = cluster.Harness.Nodes[0].HttpsClient("uma", ClusterHarness.Password); // passwords over HTTPS only
        http.Timeout = ClientSteps.Wait;
        // Node 1 learns vic's subscription through the cluster event: wait until its HTTP view counts him.
        while ((await NodeViewAsync(http, cluster.Harness.Nodes[0], node)).Subscribers != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "node 1 never saw the subscription made on node 2");
            await Task.Delay(100);
        }

        using (var body = new StringContent("<entry xmlns='urn:example'>over http</entry>", System.Text.Encoding.UTF8, "application/xml"))
        {
            using var response = await http.PostAsync(new Uri(cluster.Harness.Nodes[0].HttpsBase, $"api/pubsub/pubsub.localhost/{node}?id=h1"), body);
            Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        }
        var ev = await vic.WaitForAsync(s => s.Name == "message" && s.Element("event", PubSub + "#event") is not null, ClientSteps.Wait);
        Assert.Equal("over http", ev.Element("event", PubSub + "#event")!.Element("items")!.Element("item")!.Element("entry", "urn:example")!.Text);

        // Node 2's cached copy of the service learns the new last item (the HTTP publish announced the change).
        while ((await NodeViewAsync(http, cluster.Harness.Nodes[1], node)).LastItem != "h1")
        {
            Assert.True(DateTime.UtcNow < deadline, "node 2 kept its stale copy of the service after an HTTP publish on node 1");
            await Task.Delay(100);
        }
        // ... so a new subscriber there gets it as the last published item (XEP-0060 §6.1.7), and an items query lists it.
        await wade.SendIqAsync(Subscribe(node, "wade@localhost/w"));
        var last = await wade.WaitForAsync(s => s.Name == "message" && s.Element("event", PubSub + "#event") is not null, ClientSteps.Wait);
        Assert.Equal("h1", last.Element("event", PubSub + "#event")!.Element("items")!.Element("item")!.GetAttribute("id"));
        var items = new XmlElement("iq", Ns.Client).SetAttribute("type", "get").SetAttribute("to", "pubsub.localhost");
        items.AddElement("pubsub", PubSub).AddElement("items").SetAttribute("node", node);
        var result = await wade.SendIqAsync(items);
        Assert.Equal("over http", result.Element("pubsub", PubSub)!.Element("items")!.Element("item")!.Element("entry", "urn:example")!.Text);

        static XmlElement Subscribe(string node, string jid)
        {
            var iq = new XmlElement("iq", Ns.Client).SetAttribute("type", "set").SetAttribute("to", "pubsub.localhost");
            iq.AddElement("pubsub", PubSub).AddElement("subscribe").SetAttribute("node", node).SetAttribute("jid", jid);
            return iq;
        }

        // One node's own (cached) view of the pubsub node, through that node's HTTP API.
        static async Task<(int Subscribers, string? LastItem)> NodeViewAsync(HttpClient http, TendrilProcess server, string node)
        {
            using var response = await http.GetAsync(new Uri(server.HttpsBase, "api/pubsub/pubsub.localhost"));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, text);
            using var json = System.Text.Json.JsonDocument.Parse(text);
            foreach (var n in json.RootElement.GetProperty("nodes").EnumerateArray())
            {
                if (n.GetProperty("node").GetString() != node) continue;
                var last = n.GetProperty("last_item");
                return (n.GetProperty("subscribers").GetInt32(), last.ValueKind == System.Text.Json.JsonValueKind.String ? last.GetString() : null);
            }
            return (0, null);
        }
    }

    [Fact]
    public async Task A_pep_item_published_on_one_node_reaches_a_notify_contact_on_another_and_the_last_item_a_login_on_a_third()
    {
        const string PubSub = "http://jabber.org/protocol/pubsub";
        const string Nick = "http://jabber.org/protocol/nick";
        await using var xena = await cluster.ConnectAsync(0, "xena", "x");
        await using var ivan = await cluster.ConnectAsync(1, "ivan", "i2");
        await xena.OnlineAsync();
        await ivan.OnlineAsync();
        await ClientSteps.SubscribeMutuallyAsync(xena, ivan);
        await OnlineWithNickNotifyAsync(ivan);

        // XEP-0163 §4.3.2 / XEP-0172: xena publishes her nick on node 1; ivan's node 2 filters by his caps (+notify).
        var publish = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
        publish.AddElement("pubsub", PubSub).AddElement("publish").SetAttribute("node", Nick)
            .AddElement("item").AddElement("nick", Nick).Add("Xena W.");
        await xena.SendIqAsync(publish);
        var ev = await ivan.WaitForAsync(s => s.Name == "message" && s.GetAttribute("from") == "xena@localhost"
            && s.Element("event", PubSub + "#event")?.Element("items")?.GetAttribute("node") == Nick, ClientSteps.Wait);
        Assert.Equal("Xena W.", ev.Element("event", PubSub + "#event")!.Element("items")!.Element("item")!.Element("nick", Nick)!.Text);

        // XEP-0163 §4.3.4: ivan logs in on node 3 and gets xena's last nick.
        await using var ivan3 = await cluster.ConnectAsync(2, "ivan", "i3");
        await OnlineWithNickNotifyAsync(ivan3);
        var last = await ivan3.WaitForAsync(s => s.Name == "message" && s.GetAttribute("from") == "xena@localhost"
            && s.Element("event", PubSub + "#event")?.Element("items")?.GetAttribute("node") == Nick, ClientSteps.Wait);
        Assert.Equal("Xena W.", last.Element("event", PubSub + "#event")!.Element("items")!.Element("item")!.Element("nick", Nick)!.Text);

        static async Task OnlineWithNickNotifyAsync(XmppClient client)
        {
            var caps = new XmlElement("query", Ns.DiscoInfo);
            caps.AddElement("identity").SetAttribute("category", "client").SetAttribute("type", "pc").SetAttribute("name", "cluster-test " + Guid.NewGuid().ToString("N")); // a fresh ver: every node asks
            caps.AddElement("feature").SetAttribute("var", Ns.DiscoInfo);
            caps.AddElement("feature").SetAttribute("var", Nick + "+notify");
            var ver = Tendril.Server.Features.EntityCapsHash.ComputeVer(caps, "sha-1")!;
            var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            client.SetIqHandler("query", Ns.DiscoInfo, (iq, _) =>
            {
                asked.TrySetResult();
                var node = iq.Element("query", Ns.DiscoInfo)?.GetAttribute("node");
                var answer = caps.Clone();
                if (node is not null) answer.SetAttribute("node", node);
                return ValueTask.FromResult<XmlElement?>(answer);
            });
            var presence = new XmlElement("presence", Ns.Client);
            presence.AddElement("c", "http://jabber.org/protocol/caps").SetAttribute("hash", "sha-1").SetAttribute("node", "urn:tendril:cluster-test").SetAttribute("ver", ver);
            await client.SendAsync(presence);
            // The node asks for the caps it does not know yet (XEP-0115 §6.3): wait for the question; a ping after the
            // answer comes back only once the stream has handled the answer.
            await asked.Task.WaitAsync(ClientSteps.Wait);
            var ping = new XmlElement("iq", Ns.Client).SetAttribute("type", "get").SetAttribute("to", "localhost");
            ping.AddElement("ping", "urn:xmpp:ping");
            await client.SendIqAsync(ping);
        }
    }

    [Fact]
    public async Task A_fourth_node_joins_without_any_change_to_the_others()
    {
        var fourth = await cluster.Harness.AddNodeAsync([]);
        await using var gina = await fourth.ConnectAsync("gina@localhost", ClusterHarness.Password, "new-node");
        await using var hank = await cluster.ConnectAsync(0, "hank", "old-node");
        await gina.OnlineAsync();
        await hank.OnlineAsync();
        await ClientSteps.SubscribeMutuallyAsync(gina, hank);
        await hank.SendMessageAsync(Jid.Parse("gina@localhost"), "welcome, node 4");
        await gina.WaitMessageAsync("welcome, node 4");
        await gina.SendMessageAsync(Jid.Parse("hank@localhost"), "thanks, node 1");
        await hank.WaitMessageAsync("thanks, node 1");
    }
}

using System.Text.RegularExpressions;
using Tendril.Cluster.Tests.Infrastructure;
using Tendril.Protocol;
using Tendril.Redis;
using Tendril.Tests.Support;
using Tendril.Xml;

namespace Tendril.Cluster.Tests;

/// <summary>Faults on a fresh three-node cluster each: a node SIGKILLed, Redis restarted under traffic.</summary>
[Collection(PostgresCollection.Name)]
public sealed class FaultTests(PostgresFixture postgres)
{
    [Fact]
    public async Task A_sigkilled_node_is_purged_once_and_its_contacts_see_it_unavailable()
    {
        await using var cluster = await ClusterHarness.StartAsync(postgres.Server, 3, "ivy@localhost", "jack@localhost", "kate@localhost", "lee@localhost");
        await using var ivy = await cluster.Nodes[0].ConnectAsync("ivy@localhost", ClusterHarness.Password, "one");
        await using var jack = await cluster.Nodes[1].ConnectAsync("jack@localhost", ClusterHarness.Password, "two");
        await using var kate = await cluster.Nodes[2].ConnectAsync("kate@localhost", ClusterHarness.Password, "three");
        await using var lee = await cluster.Nodes[0].ConnectAsync("lee@localhost", ClusterHarness.Password, "four");
        await ivy.OnlineAsync();
        await jack.OnlineAsync();
        await kate.OnlineAsync();
        await lee.OnlineAsync();
        await ClientSteps.SubscribeMutuallyAsync(ivy, jack);
        await ClientSteps.SubscribeMutuallyAsync(kate, jack);
        // Lee is no contact of jack's: he only got directed presence (a worker announcing itself to a coordinator).
        await jack.SendPresenceAsync(Jid.Parse("lee@localhost/four"));
        await lee.WaitPresenceAsync("jack@localhost/two", null);

        // (On a loaded machine a stalled node can be declared dead and rejoin before this point: count from here.)
        var before = PurgeCount(cluster);
        await cluster.Nodes[1].SignalAsync("KILL");
        try
        {
            await AfterKillAsync(cluster, ivy, kate, lee, before);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{e.GetType().Name}: {e.Message}\n{FullLogs(cluster)}");
        }
    }

    private static async Task AfterKillAsync(ClusterHarness cluster, Tendril.Client.XmppClient ivy, Tendril.Client.XmppClient kate, Tendril.Client.XmppClient lee, int before)
    {

        // Within the node timeout (judged by Redis) a survivor claims the dead node and tells its contacts.
        await ivy.WaitPresenceAsync("jack@localhost/two", "unavailable");
        await kate.WaitPresenceAsync("jack@localhost/two", "unavailable");
        await lee.WaitPresenceAsync("jack@localhost/two", "unavailable"); // RFC 6121 §4.6.3, from the routing table's copy
        // (The console logger writes asynchronously: wait for the line, from whichever survivor won the claim.)
        var deadline = DateTime.UtcNow + ClientSteps.Wait;
        while (PurgeCount(cluster) == before && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.True(PurgeCount(cluster) == before + 1, $"expected one claim of n2 after the kill ({before} before):\n{Logs(cluster)}");

        // Nothing of n2 is left in Redis.
        await using var redis = new RedisClient(new RedisClientOptions { EndPoint = cluster.Redis.EndPoint });
        await redis.ConnectAsync();
        var keys = new ClusterKeys("localhost");
        Assert.Equal(["n1", "n3"], (await redis.ExecuteAsync("SMEMBERS", keys.Nodes)).Items.Select(i => i.AsString()).Order());
        Assert.Equal(0, (await redis.ExecuteAsync("EXISTS", keys.Account("jack@localhost"))).AsInt64());

        // Jack is offline everywhere now: messages to him are stored, and reach him when he logs in on another node —
        // from the node that won the purge and from the one that heard of it (neither routes to the dead node).
        await ivy.SendMessageAsync(Jid.Parse("jack@localhost"), "while you were down");
        await kate.SendMessageAsync(Jid.Parse("jack@localhost"), "kate too");
        await using var again = await cluster.Nodes[2].ConnectAsync("jack@localhost", ClusterHarness.Password, "back");
        await again.OnlineAsync();
        await again.WaitMessageAsync("while you were down");
        await again.WaitMessageAsync("kate too");
        await kate.WaitPresenceAsync("jack@localhost/back", null);
        // Many sweeps later, still exactly one claim across the survivors.
        Assert.Equal(before + 1, PurgeCount(cluster));
    }

    private static string FullLogs(ClusterHarness cluster) =>
        string.Join("\n----\n", cluster.Nodes.Select((n, i) => ClusterHarness.NodeName(i) + ":\n" + n.Log));

    private static string Logs(ClusterHarness cluster) =>
        string.Join("\n----\n", cluster.Nodes.Select(n => string.Join('\n', n.Log.Split('\n').Where(l => l.Contains("Cluster", StringComparison.Ordinal) || l.Contains("fail", StringComparison.OrdinalIgnoreCase)))));

    private static int PurgeCount(ClusterHarness cluster) => Regex.Count(cluster.Nodes[0].Log + cluster.Nodes[2].Log, "purged dead node n2");

    [Fact]
    public async Task A_node_stalled_past_the_timeout_is_purged_then_rejoins_and_its_users_get_what_they_missed()
    {
        await using var cluster = await ClusterHarness.StartAsync(postgres.Server, 2, "mia@localhost", "ned@localhost");
        await using var mia = await cluster.Nodes[0].ConnectAsync("mia@localhost", ClusterHarness.Password, "m");
        await using var ned = await cluster.Nodes[1].ConnectAsync("ned@localhost", ClusterHarness.Password, "n");
        await mia.OnlineAsync();
        await ned.OnlineAsync();
        await ClientSteps.SubscribeMutuallyAsync(mia, ned);
        // Node 2 archives ned's messages for mia (the entering node decides): it holds a copy of mia's preferences.
        await ned.SendMessageAsync(Jid.Parse("mia@localhost/m"), "archived");
        await mia.WaitMessageAsync("archived");
        await ned.SendPresenceAsync(status: "about to stall");
        await mia.WaitForAsync(s => IsNedAvailable(s, "about to stall"), ClientSteps.Wait);

        // Node 2 stalls (a VM pause, a swap storm) past the node timeout: node 1 purges it and tells mia ned is gone.
        await cluster.Nodes[1].SignalAsync("STOP");
        try
        {
            await mia.WaitPresenceAsync("ned@localhost/n", "unavailable");
            // Meanwhile mia stops archiving, writes to ned (stored offline: he is in no node's table) and steps out.
            var prefs = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
            prefs.AddElement("prefs", "urn:xmpp:mam:2").SetAttribute("default", "never");
            Assert.Equal("result", (await mia.SendIqAsync(prefs)).GetAttribute("type"));
            await mia.SendMessageAsync(Jid.Parse("ned@localhost"), "while you were stalled");
            await mia.SendPresenceAsync(show: "away", status: "stepped out");
            await mia.RequestRosterAsync(); // in order on mia's stream: the message is stored and the presence sent
        }
        finally
        {
            await cluster.Nodes[1].SignalAsync("CONT");
        }

        // Node 2 finds itself declared dead, re-joins and announces ned again; ned learns what he missed.
        try
        {
            await mia.WaitForAsync(s => IsNedAvailable(s, "about to stall"), ClientSteps.Wait); // nothing else sends it again
            var away = await ned.WaitForAsync(s => s.Name == "presence" && s.GetAttribute("from") == "mia@localhost/m" && s.Element("show")?.Text == "away", ClientSteps.Wait);
            Assert.Equal("stepped out", away.Element("status")?.Text);
            await ned.WaitMessageAsync("while you were stalled");
            // Its copy of mia's preferences went with the events it missed: ned's next message is not archived for her.
            await ned.SendMessageAsync(Jid.Parse("mia@localhost/m"), "not archived");
            await mia.WaitMessageAsync("not archived");
            await using var miaThere = await cluster.Nodes[1].ConnectAsync("mia@localhost", ClusterHarness.Password, "there");
            Assert.Equal(["archived"], await miaThere.ArchiveAsync("ned@localhost")); // read-your-writes on node 2
            Assert.Contains("declared dead", cluster.Nodes[1].Log, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{e.GetType().Name}: {e.Message}\n{FullLogs(cluster)}");
        }
    }

    private static bool IsNedAvailable(XmlElement s, string status) =>
        s.Name == "presence" && s.GetAttribute("from") == "ned@localhost/n" && s.GetAttribute("type") is null && s.Element("status")?.Text == status;

    [Fact]
    public async Task A_node_stopped_with_sigterm_leaves_cleanly_and_is_not_purged()
    {
        await using var cluster = await ClusterHarness.StartAsync(postgres.Server, 2, "tom@localhost", "uma@localhost");
        await using var tom = await cluster.Nodes[0].ConnectAsync("tom@localhost", ClusterHarness.Password, "t");
        var uma = await cluster.Nodes[1].ConnectAsync("uma@localhost", ClusterHarness.Password, "u");
        await tom.OnlineAsync();
        await uma.OnlineAsync();
        await ClientSteps.SubscribeMutuallyAsync(tom, uma);

        Assert.Equal(0, await cluster.Nodes[1].StopAsync());
        await tom.WaitPresenceAsync("uma@localhost/u", "unavailable");
        Assert.Contains("Cluster node n2 left the cluster", cluster.Nodes[1].Log, StringComparison.Ordinal);
        await using var redis = new RedisClient(new RedisClientOptions { EndPoint = cluster.Redis.EndPoint });
        await redis.ConnectAsync();
        var keys = new ClusterKeys("localhost");
        Assert.Equal(["n1"], (await redis.ExecuteAsync("SMEMBERS", keys.Nodes)).Items.Select(i => i.AsString()));
        Assert.Equal(0, (await redis.ExecuteAsync("EXISTS", keys.Account("uma@localhost"))).AsInt64());
        Assert.Equal(0, (await redis.ExecuteAsync("EXISTS", keys.Alive("n2"))).AsInt64());
        // Left, not died: nobody purged it.
        Assert.DoesNotContain("purged dead node n2", cluster.Nodes[0].Log, StringComparison.Ordinal);
        await uma.DisposeAsync();
    }

    [Fact]
    public async Task While_redis_is_down_local_traffic_flows_and_cross_node_stanzas_wait_in_a_bounded_queue()
    {
        await using var cluster = await ClusterHarness.StartAsync(postgres.Server, 2, new Dictionary<string, object> { ["OutboxStanzas"] = 16 }, "vera@localhost", "walt@localhost", "xena@localhost");
        await using var vera = await cluster.Nodes[0].ConnectAsync("vera@localhost", ClusterHarness.Password, "v");
        await using var xena = await cluster.Nodes[0].ConnectAsync("xena@localhost", ClusterHarness.Password, "x");
        await using var walt = await cluster.Nodes[1].ConnectAsync("walt@localhost", ClusterHarness.Password, "w");
        await vera.OnlineAsync();
        await xena.OnlineAsync();
        await walt.OnlineAsync();
        await ClientSteps.SubscribeMutuallyAsync(vera, walt);

        cluster.Redis.Kill();
        await cluster.Nodes[0].WaitForLogAsync("Redis unreachable", timeout: ClientSteps.Wait);

        // Local traffic does not notice.
        await vera.SendMessageAsync(Jid.Parse("xena@localhost"), "local while redis is down");
        await xena.WaitMessageAsync("local while redis is down");

        // Cross-node: what fits in the bounded queue waits; the rest is bounced to the sender with a wait error.
        const int total = 40;
        for (var i = 0; i < total; i++) await vera.SendMessageAsync(Jid.Parse("walt@localhost/w"), "q" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var bounced = new List<string>();
        var marker = "local marker";
        await vera.SendMessageAsync(Jid.Parse("xena@localhost"), marker);
        await xena.WaitMessageAsync(marker); // every bounce was generated before this was routed (same stream, in order)
        while (true)
        {
            XmlElement error;
            try
            {
                error = await vera.WaitForAsync(s => s.Name == "message" && s.GetAttribute("type") == "error", TimeSpan.FromSeconds(3));
            }
            catch (TimeoutException)
            {
                break;
            }
            Assert.Equal("wait", error.Element("error")?.GetAttribute("type"));
            bounced.Add(error.Element("body")?.Text ?? "");
        }
        Assert.NotEmpty(bounced);

        cluster.Redis.Start(); // empty (no persistence): the table must be rebuilt from the nodes
        var delivered = new List<string>();
        while (delivered.Count + bounced.Count < total) delivered.Add((await walt.WaitForAsync(s => s.Name == "message", TimeSpan.FromSeconds(90))).Element("body")!.Text);
        // Nothing dropped silently: each message was delivered (in order) or bounced, never both.
        Assert.Equal(Enumerable.Range(0, total).Select(i => "q" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order(), delivered.Concat(bounced).Order());
        Assert.Equal(delivered.OrderBy(b => int.Parse(b[1..], System.Globalization.CultureInfo.InvariantCulture)), delivered);
        Assert.True(vera.IsConnected && walt.IsConnected && xena.IsConnected);
    }

    [Fact]
    public async Task Redis_restarted_under_traffic_loses_nothing_and_drops_no_session()
    {
        await using var cluster = await ClusterHarness.StartAsync(postgres.Server, 3, "lena@localhost", "mike@localhost", "nora@localhost");
        await using var lena = await cluster.Nodes[0].ConnectAsync("lena@localhost", ClusterHarness.Password, "a");
        await using var mike = await cluster.Nodes[1].ConnectAsync("mike@localhost", ClusterHarness.Password, "b");
        await lena.OnlineAsync();
        await mike.OnlineAsync();
        await ClientSteps.SubscribeMutuallyAsync(lena, mike);

        const int total = 150;
        var received = new List<string>();
        var sender = Task.Run(async () =>
        {
            for (var i = 0; i < total; i++)
            {
                await lena.SendMessageAsync(Jid.Parse("mike@localhost"), "m" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                await Task.Delay(20); // a steady stream, so part of it is sent while Redis is away
            }
        });
        for (var i = 0; i < 30; i++) received.Add((await mike.WaitForAsync(s => s.Name == "message", ClientSteps.Wait)).Element("body")!.Text);
        // Killed and started again empty (no persistence): the table must be rebuilt from the nodes.
        cluster.Redis.Kill();
        cluster.Redis.Start();
        while (received.Count < total) received.Add((await mike.WaitForAsync(s => s.Name == "message", TimeSpan.FromSeconds(90))).Element("body")!.Text);
        await sender;

        // Every message arrived, once, in the order sent.
        Assert.Equal(Enumerable.Range(0, total).Select(i => "m" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)), received);
        // No session dropped, and the routing table was rebuilt: both still talk, and a newcomer on the third node reaches them.
        Assert.True(lena.IsConnected && mike.IsConnected);
        await mike.SendMessageAsync(Jid.Parse("lena@localhost/a"), "still here");
        await lena.WaitMessageAsync("still here");
        await using var nora = await cluster.Nodes[2].ConnectAsync("nora@localhost", ClusterHarness.Password, "c");
        await nora.OnlineAsync();
        await nora.SendMessageAsync(Jid.Parse("mike@localhost"), "hello after the restart");
        await mike.WaitMessageAsync("hello after the restart");
        await cluster.Nodes[0].WaitForLogAsync("re-published", timeout: ClientSteps.Wait);
        await cluster.Nodes[1].WaitForLogAsync("re-published", timeout: ClientSteps.Wait);
    }
}

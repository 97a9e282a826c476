using Tendril.Client;
using Tendril.Cluster.Tests.Infrastructure;
using Tendril.Protocol;
using Tendril.Tests.Support;
using Xunit.Abstractions;

namespace Tendril.Cluster.Tests;

/// <summary>
/// Node faults with a numbered stream of messages flowing across them (docs/reliability.md): every message sent is
/// counted as delivered live, delivered from offline storage, bounced to its sender — or lost, which must never be.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class CountedFaultTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(50);

    /// <summary>The issue's scenario: the README's two nodes on one shared SQLite file, one of them SIGKILLed.</summary>
    [Fact]
    public Task A_node_killed_mid_conversation_loses_no_message() =>
        AcrossFaultAsync("k", async (cluster, tally) =>
        {
            await cluster.Nodes[1].SignalAsync("KILL");
            await cluster.Nodes[0].WaitForLogAsync("purged dead node n2", timeout: ClientSteps.Wait);
        }, sqlite: true);

    /// <summary>
    /// A hung node killed by a watchdog: while it is frozen Redis still takes what is published to its channel (the
    /// subscriber connection is open), and all of that dies with it.
    /// </summary>
    [Fact]
    public Task A_hung_node_killed_loses_no_message() =>
        AcrossFaultAsync("h", async (cluster, tally) =>
        {
            await cluster.Nodes[1].SignalAsync("STOP");
            var sent = tally.Sent;
            await tally.WaitAsync(t => t.Sent >= sent + 10, ClientSteps.Wait);
            await cluster.Nodes[1].SignalAsync("KILL");
            await cluster.Nodes[0].WaitForLogAsync("purged dead node n2", timeout: ClientSteps.Wait);
        });

    [Fact]
    public Task A_node_stalled_past_the_timeout_loses_no_message() =>
        AcrossFaultAsync("s", async (cluster, tally) =>
        {
            await cluster.Nodes[1].SignalAsync("STOP");
            try
            {
                await cluster.Nodes[0].WaitForLogAsync("purged dead node n2", timeout: ClientSteps.Wait);
                var sent = tally.Sent;
                await tally.WaitAsync(t => t.Sent >= sent + 10, ClientSteps.Wait);
            }
            finally
            {
                await cluster.Nodes[1].SignalAsync("CONT");
            }
            await cluster.Nodes[1].WaitForLogAsync("declared dead", timeout: ClientSteps.Wait);
        });

    [Fact]
    public Task A_node_stopped_with_sigterm_loses_no_message() =>
        AcrossFaultAsync("t", async (cluster, tally) =>
        {
            Assert.Equal(0, await cluster.Nodes[1].StopAsync());
        });

    /// <summary>
    /// Redis killed (its data gone with it) and unreachable for 10 s while ann (node 1) and bob (node 2) write to each
    /// other: local traffic never waits for Redis; cross-node messages wait in the outboxes and go out, in order, once
    /// Redis is back and the table rebuilt.
    /// </summary>
    [Fact]
    public async Task Redis_unreachable_under_traffic_loses_no_message()
    {
        await using var cluster = await ClusterHarness.StartAsync(postgres.Server, 2, "ann@localhost", "bob@localhost");
        var toBob = new MessageTally("b");
        var toAnn = new MessageTally("a");
        await using var ann = await cluster.Nodes[0].ConnectAsync("ann@localhost", ClusterHarness.Password, "a");
        await using var bob = await cluster.Nodes[1].ConnectAsync("bob@localhost", ClusterHarness.Password, "b");
        toBob.WatchSender(ann);
        toBob.WatchRecipient(bob);
        toAnn.WatchSender(bob);
        toAnn.WatchRecipient(ann);
        await ann.OnlineAsync();
        await bob.OnlineAsync();

        using var stop = new CancellationTokenSource();
        var senders = new[]
        {
            SendUntilAsync(toBob, ann, Jid.Parse("bob@localhost"), stop.Token),
            SendUntilAsync(toAnn, bob, Jid.Parse("ann@localhost/a"), stop.Token),
        };
        try
        {
            Assert.True(await toBob.WaitAsync(t => t.Live >= 20, ClientSteps.Wait), toBob.ToString());
            cluster.Redis.Kill();
            var sent = toBob.Sent;
            await toBob.WaitAsync(t => t.Sent >= sent + 200, ClientSteps.Wait); // 10 s at 20 messages/s
            cluster.Redis.Start();
            await cluster.Nodes[0].WaitForLogAsync("re-published", timeout: ClientSteps.Wait);
            await cluster.Nodes[1].WaitForLogAsync("re-published", timeout: ClientSteps.Wait);
            sent = toBob.Sent;
            await toBob.WaitAsync(t => t.Sent >= sent + 20, ClientSteps.Wait);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(senders);
        }
        var accounted = await toBob.WaitAsync(t => t.AllAccounted, ClientSteps.Wait) & await toAnn.WaitAsync(t => t.AllAccounted, ClientSteps.Wait);
        output.WriteLine("ann to bob: " + toBob);
        output.WriteLine("bob to ann: " + toAnn);
        Assert.True(accounted, $"ann to bob: {toBob}\nbob to ann: {toAnn}\n{string.Join("\n----\n", cluster.Nodes.Select(n => n.Log))}");
        Assert.Equal(0, toBob.Duplicates + toAnn.Duplicates);
        Assert.True(ann.IsConnected && bob.IsConnected);
    }

    private static Task SendUntilAsync(MessageTally tally, XmppClient from, Jid to, CancellationToken stop) => Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            await tally.SendNextAsync(from, to);
            await Task.Delay(Pace);
        }
    });

    /// <summary>
    /// Ann (node 1) writes to bob (node 2) every 50 ms, alternately to his bare and his full JID. The fault hits node 2
    /// after bob got 20; ann goes on; bob comes back on node 1 while she still writes; then every message must be
    /// accounted for.
    /// </summary>
    private async Task AcrossFaultAsync(string prefix, Func<ClusterHarness, MessageTally, Task> fault, bool sqlite = false)
    {
        await using var cluster = sqlite
            ? await ClusterHarness.StartOnSqliteAsync(2, "ann@localhost", "bob@localhost")
            : await ClusterHarness.StartAsync(postgres.Server, 2, "ann@localhost", "bob@localhost");
        var tally = new MessageTally(prefix);
        await using var ann = await cluster.Nodes[0].ConnectAsync("ann@localhost", ClusterHarness.Password, "a");
        var bob = await cluster.Nodes[1].ConnectAsync("bob@localhost", ClusterHarness.Password, "b");
        XmppClient? bobAgain = null;
        tally.WatchSender(ann);
        tally.WatchRecipient(bob);
        await ann.OnlineAsync();
        await bob.OnlineAsync();

        using var stop = new CancellationTokenSource();
        var bare = Jid.Parse("bob@localhost");
        var full = Jid.Parse("bob@localhost/b");
        var sender = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await tally.SendNextAsync(ann, tally.Sent % 2 == 0 ? bare : full);
                await Task.Delay(Pace); // a steady stream, so part of it is in flight whatever the fault's timing
            }
        });
        try
        {
            Assert.True(await tally.WaitAsync(t => t.Live >= 20, ClientSteps.Wait), tally.ToString());
            await fault(cluster, tally);
            // Ann goes on a while, then bob logs in again on node 1 while she still writes.
            var sent = tally.Sent;
            await tally.WaitAsync(t => t.Sent >= sent + 20, ClientSteps.Wait);
            bobAgain = await cluster.Nodes[0].ConnectAsync("bob@localhost", ClusterHarness.Password, "again");
            tally.WatchRecipient(bobAgain);
            await bobAgain.OnlineAsync();
            sent = tally.Sent;
            await tally.WaitAsync(t => t.Sent >= sent + 20, ClientSteps.Wait);
        }
        finally
        {
            await stop.CancelAsync();
            await sender;
        }
        var accounted = await tally.WaitAsync(t => t.AllAccounted, ClientSteps.Wait);
        output.WriteLine(tally.ToString());
        foreach (var line in cluster.Nodes[0].Log.Split('\n'))
        {
            if (line.Contains("Cluster", StringComparison.Ordinal) || line.Contains("fail", StringComparison.OrdinalIgnoreCase)) output.WriteLine(line);
        }
        Assert.True(accounted, $"{tally}\n{string.Join("\n----\n", cluster.Nodes.Select(n => n.Log))}");
        Assert.True(tally.Duplicates <= tally.Sent / 10, tally.ToString());
        if (bobAgain is not null) await bobAgain.DisposeAsync();
        await bob.DisposeAsync();
    }
}

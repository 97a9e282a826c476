using System.Text;
using Tendril.Tests.Support;
using Tendril.Protocol;
using Tendril.Redis;

namespace Tendril.Cluster.Tests;

/// <summary>The Redis data model (docs/cluster.md) against a real redis-server: claims, ownership, liveness, replicas.</summary>
public sealed class RoutingTableStoreTests : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private readonly List<RedisClient> _clients = [];
    private readonly ClusterKeys _keys = new("store-test-" + Guid.NewGuid().ToString("N")[..8]);

    public Task InitializeAsync()
    {
        _redis = new RedisServer();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var c in _clients) await c.DisposeAsync();
        _redis.Dispose();
    }

    private async Task<(RedisClient Client, RoutingTableStore Store)> ConnectAsync()
    {
        var client = new RedisClient(new RedisClientOptions { EndPoint = _redis.EndPoint });
        await client.ConnectAsync();
        _clients.Add(client);
        return (client, new RoutingTableStore(client, _keys));
    }

    [Fact]
    public void A_record_carries_the_directed_presence_targets_after_presence_xml_that_may_hold_tabs()
    {
        var record = new SessionRecord("n1", -3, true, "<presence xmlns='jabber:client'><status>a\tb</status></presence>", "lee@localhost/four\0room@muc.localhost/jack");
        Assert.True(SessionRecord.TryDecode(record.Encode(), out var decoded));
        Assert.Equal(record, decoded);
        Assert.Equal(["lee@localhost/four", "room@muc.localhost/jack"], decoded.DirectedJids().Select(j => j.ToString()));
        var plain = new SessionRecord("n2", 0, false, "");
        Assert.True(SessionRecord.TryDecode(plain.Encode(), out var decodedPlain));
        Assert.Equal(plain, decodedPlain);
        Assert.Empty(decodedPlain.DirectedJids());
    }

    private static SessionRecord Record(string node, int priority = 0, bool available = true) =>
        new(node, priority, available, available ? "<presence xmlns='jabber:client' from='x@d/r'/>" : "");

    /// <summary>Waits (polling Redis, generous bound) until the liveness key of <paramref name="node"/> is gone.</summary>
    private static async Task WaitExpiredAsync(RedisClient client, string key)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await client.ExecuteAsync("EXISTS", key)).AsInt64() == 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the liveness key never expired");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Reading_one_account_brings_a_replica_that_missed_its_events_up_to_date()
    {
        var (_, store) = await ConnectAsync();
        var mirror = new RemoteSessionMirror("n1", _ => null);
        var kim = Jid.Parse("kim@d");
        var (none, noFields) = await store.ReadAccountAsync(kim);
        Assert.Equal(0, none);
        Assert.Empty(noFields);

        // Bound on n2; this replica heard nothing of it (its events are still in flight).
        await store.WriteAsync("n2", Jid.Parse("kim@d/phone"), Record("n2", priority: 5), "bind");
        Assert.Empty(mirror.FindAll(kim));
        var (version, flat) = await store.ReadAccountAsync(Jid.Parse("kim@d/any")); // the resource is ignored
        Assert.True(version > 0);
        mirror.Apply(kim, version, flat);
        var session = Assert.Single(mirror.FindAll(kim));
        Assert.Equal(("kim@d/phone", "n2", 5, true), (session.JidString, session.NodeId, session.Priority, session.IsAvailable));

        // A read older than what the replica holds never takes it back.
        await store.WriteAsync("n2", Jid.Parse("kim@d/phone"), Record("n2", priority: 5, available: false), "update");
        var (newer, newerFlat) = await store.ReadAccountAsync(kim);
        mirror.Apply(kim, newer, newerFlat);
        mirror.Apply(kim, version, flat);
        Assert.False(Assert.Single(mirror.FindAll(kim)).IsAvailable);
    }

    [Fact]
    public async Task A_dead_node_is_purged_exactly_once_by_concurrent_sweepers()
    {
        var (_, dead) = await ConnectAsync();
        var (clientA, a) = await ConnectAsync();
        var (_, b) = await ConnectAsync();
        await dead.HeartbeatAsync("dead", 300);
        await a.HeartbeatAsync("a", 60_000);
        await b.HeartbeatAsync("b", 60_000);
        const int sessions = 50;
        for (var i = 0; i < sessions; i++) await dead.WriteAsync("dead", Jid.Parse($"user{i % 10}@d/res{i}"), Record("dead"), "bind");
        // One resource of the dead node had been re-bound on node a: it must survive the purge.
        Assert.Equal("dead", await a.WriteAsync("a", Jid.Parse("user0@d/res0"), Record("a"), "bind"));

        await WaitExpiredAsync(clientA, _keys.Alive("dead"));
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => (i % 2 == 0 ? a : b).SweepAsync(i % 2 == 0 ? "a" : "b")));

        var claims = results.Where(r => r.Dead.Contains("dead")).ToList();
        Assert.Single(claims);
        Assert.Equal(sessions - 1, claims[0].Purged.Count);
        Assert.Equal(sessions - 1, results.Sum(r => r.Purged.Count));
        Assert.All(claims[0].Purged, p => Assert.Equal("dead", p.Node));
        Assert.DoesNotContain(claims[0].Purged, p => p.Jid.ToString() == "user0@d/res0");
        // What is left in Redis: only a's re-bound resource, and the members a and b.
        var snapshot = await a.SnapshotAsync();
        var left = snapshot.Accounts.SelectMany(acc => Fields(acc.Flat).Select(f => acc.Bare.WithResource(f.Field).ToString() + "=" + f.Value.Split('\t')[0])).ToList();
        Assert.Equal(["user0@d/res0=a"], left);
        var members = (await clientA.ExecuteAsync("SMEMBERS", _keys.Nodes)).Items.Select(i => i.AsString()).Order().ToList();
        Assert.Equal(["a", "b"], members);
        Assert.Equal(0, (await clientA.ExecuteAsync("EXISTS", _keys.NodeSessions("dead"))).AsInt64());
    }

    [Fact]
    public async Task Liveness_is_judged_by_redis_ttl_so_node_clocks_never_matter()
    {
        var (client, live) = await ConnectAsync();
        var (_, sweeper) = await ConnectAsync();
        await sweeper.HeartbeatAsync("sweeper", 60_000);
        // The heartbeat carries no timestamp at all: Redis sets the key's TTL from its own clock. A node whose clock is
        // hours off renews exactly the same key.
        Assert.Equal(Membership.Joined, await live.HeartbeatAsync("live", 1500));
        var ttl = (await client.ExecuteAsync("PTTL", _keys.Alive("live"))).AsInt64();
        Assert.InRange(ttl, 1, 1500);
        await live.WriteAsync("live", Jid.Parse("u@d/r"), Record("live"), "bind");

        // While it keeps renewing, no sweep claims it — however many sweeps run.
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(Membership.Member, await live.HeartbeatAsync("live", 1500)); // already a member: not a re-join
            var sweep = await sweeper.SweepAsync("sweeper");
            Assert.Empty(sweep.Dead);
            Assert.Contains("live", sweep.Live);
        }

        // It stops renewing: once Redis expired the key, the next sweep claims it.
        await WaitExpiredAsync(client, _keys.Alive("live"));
        var claim = await sweeper.SweepAsync("sweeper");
        Assert.Equal(["live"], claim.Dead);
        Assert.Equal("u@d/r", Assert.Single(claim.Purged).Jid.ToString());
        // A node that comes back after being declared dead learns it from its heartbeat (re-join → re-publish), once.
        Assert.Equal(Membership.DeclaredDead, await live.HeartbeatAsync("live", 1500));
        Assert.Equal(Membership.Member, await live.HeartbeatAsync("live", 1500));
    }

    [Fact]
    public async Task Writes_respect_ownership_and_publish_ordered_versions_that_replicas_apply()
    {
        var (client, a) = await ConnectAsync();
        var (_, b) = await ConnectAsync();
        var received = new List<string>();
        var gotAll = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await client.SubscribeAsync(_keys.Events, m =>
        {
            lock (received)
            {
                received.Add(Encoding.UTF8.GetString(m.Span));
                if (received.Count == 5) gotAll.TrySetResult();
            }
            return ValueTask.CompletedTask;
        });
        // SUBSCRIBE is asynchronous on the subscriber connection: publish a probe until it is heard.
        var full = Jid.Parse("juliet@d/balcony");
        Assert.Null(await a.WriteAsync("a", full, Record("a", 5), "bind"));                 // 1: bind on a
        Assert.Null(await a.WriteAsync("a", full, Record("a", 7), "update"));               // 2: presence change on a
        Assert.Equal("a", await b.WriteAsync("b", full, Record("b", 1), "bind"));           // 3: bound again on b → a is told to close
        Assert.Equal("!lost", await a.WriteAsync("a", full, Record("a", 9), "update"));     // a's late update does not win
        Assert.False(await a.RemoveAsync("a", full));                                       // nor does a's late unbind
        Assert.Null(await b.WriteAsync("b", Jid.Parse("juliet@d/car"), Record("b", 2), "bind")); // 4
        Assert.True(await b.RemoveAsync("b", full));                                        // 5

        var snapshot = await a.SnapshotAsync();
        var account = Assert.Single(snapshot.Accounts);
        Assert.Equal(["car"], Fields(account.Flat).Select(f => f.Field));

        // A replica (node c) fed the same events out of order ends in the newest state, and skips its own node.
        await gotAll.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var mirror = new RemoteSessionMirror("c", _ => null);
        List<string> events;
        lock (received) events = [.. received];
        foreach (var e in Enumerable.Reverse(events)) mirror.ApplyEvent(Encoding.UTF8.GetBytes(e));
        mirror.Apply(Jid.Parse("juliet@d"), 1, ["balcony", Record("a").Encode()]); // an old snapshot read arrives last
        var sessions = mirror.FindAll(Jid.Parse("juliet@d"));
        var car = Assert.Single(sessions);
        Assert.Equal("juliet@d/car", car.JidString);
        Assert.Equal("b", car.NodeId);
        Assert.Equal(2, car.Priority);
        Assert.NotNull(car.LastPresence);
        Assert.Null(mirror.Find(full));
        var own = new RemoteSessionMirror("b", _ => null);
        own.ApplyEvent(Encoding.UTF8.GetBytes(events[^2]));
        Assert.Empty(own.FindAll(full));
    }

    [Fact]
    public void A_dead_node_is_dropped_from_the_replica_at_once_and_only_newer_state_brings_it_back()
    {
        var mirror = new RemoteSessionMirror("c", _ => null);
        var romeo = Jid.Parse("romeo@d");
        mirror.Apply(romeo, 3, ["phone", Record("a").Encode(), "laptop", Record("b").Encode()]);
        mirror.Apply(Jid.Parse("nurse@d"), 4, ["desk", Record("a").Encode()]);

        Assert.Equal(2, mirror.RemoveNode("a"));

        Assert.Equal(["romeo@d/laptop"], mirror.FindAll(romeo).Select(s => s.JidString));
        Assert.Empty(mirror.FindAll(Jid.Parse("nurse@d")));
        Assert.Null(mirror.Find(Jid.Parse("romeo@d/phone")));
        // A late event from before the purge does not bring the dead session back...
        mirror.Apply(romeo, 2, ["phone", Record("a").Encode()]);
        Assert.Null(mirror.Find(Jid.Parse("romeo@d/phone")));
        // ...a newer state (the node came back under its id and re-published) does.
        mirror.Apply(romeo, 5, ["phone", Record("a").Encode(), "laptop", Record("b").Encode()]);
        Assert.Equal("a", mirror.Find(Jid.Parse("romeo@d/phone"))?.NodeId);
    }

    private static IEnumerable<(string Field, string Value)> Fields(IReadOnlyList<string> flat)
    {
        for (var i = 0; i + 1 < flat.Count; i += 2)
        {
            if (!flat[i].StartsWith('#')) yield return (flat[i], flat[i + 1]);
        }
    }
}

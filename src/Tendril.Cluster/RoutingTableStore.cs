using Tendril.Protocol;
using Tendril.Redis;

namespace Tendril.Cluster;

/// <summary>What a sweep found: the sessions it purged (exactly once cluster-wide), the dead nodes it claimed, the live nodes.</summary>
internal sealed record SweepResult(IReadOnlyList<(string Node, Jid Jid, SessionRecord Record)> Purged, IReadOnlyList<string> Dead, IReadOnlyList<string> Live);

/// <summary>The routing table and membership in Redis: one method per script (docs/cluster.md, "Keys").</summary>
/// <summary>What a heartbeat found: the node was a member, was not (first join, or Redis lost its data), or had been declared dead.</summary>
internal enum Membership
{
    Member = 0,
    Joined = 1,
    DeclaredDead = 2,
}

internal sealed class RoutingTableStore(RedisClient redis, ClusterKeys keys)
{
    public ClusterKeys Keys => keys;

    /// <summary>Binds (or updates, or re-publishes) a session. Returns the node that held the full JID before, "!lost" when another node owns it, or null.</summary>
    public async Task<string?> WriteAsync(string node, Jid full, SessionRecord record, string mode)
    {
        var bare = full.Bare.ToString();
        var result = await redis.EvalAsync(ClusterScripts.Write,
            [keys.Account(bare), keys.NodeSessions(node), keys.Sequence],
            [full.Resource!, record.Encode(), full.ToString(), node, keys.Events, bare, keys.Prefix, mode]).ConfigureAwait(false);
        return result.IsNull ? null : result.AsString();
    }

    public async Task<bool> RemoveAsync(string node, Jid full)
    {
        var bare = full.Bare.ToString();
        var result = await redis.EvalAsync(ClusterScripts.Remove,
            [keys.Account(bare), keys.NodeSessions(node), keys.Sequence],
            [full.Resource!, full.ToString(), node, keys.Events, bare]).ConfigureAwait(false);
        return result.AsInt64() == 1;
    }

    /// <summary>Renews the node's liveness key; true when the node was (re)added to the member set.</summary>
    public async Task<Membership> HeartbeatAsync(string node, int timeoutMs)
    {
        var result = await redis.EvalAsync(ClusterScripts.Heartbeat, [keys.Alive(node), keys.Nodes, keys.Purged(node)], [node, timeoutMs]).ConfigureAwait(false);
        return (Membership)result.AsInt64();
    }

    public Task EnsureSequenceAsync(long atLeast) => redis.EvalAsync(ClusterScripts.EnsureSequence, [keys.Sequence], [atLeast]);

    /// <summary>The full JIDs Redis lists as bound on <paramref name="node"/>.</summary>
    public async Task<List<Jid>> NodeSessionsAsync(string node)
    {
        var members = await redis.ExecuteAsync("SMEMBERS", keys.NodeSessions(node)).ConfigureAwait(false);
        var list = new List<Jid>(members.Items.Count);
        foreach (var m in members.Items)
        {
            if (Jid.TryParse(m.AsString(), out var jid)) list.Add(jid);
        }
        return list;
    }

    public async Task<SweepResult> SweepAsync(string self)
    {
        var result = await redis.EvalAsync(ClusterScripts.Sweep, [keys.Nodes, keys.Sequence], [keys.Prefix, keys.Events, self]).ConfigureAwait(false);
        var purged = new List<(string, Jid, SessionRecord)>();
        var flat = result.Items[0].Items;
        for (var i = 0; i + 2 < flat.Count; i += 3)
        {
            if (Jid.TryParse(flat[i + 1].AsString(), out var jid) && SessionRecord.TryDecode(flat[i + 2].AsString() ?? "", out var record))
            {
                purged.Add((flat[i].AsString()!, jid, record));
            }
        }
        return new SweepResult(purged, [.. result.Items[1].Items.Select(r => r.AsString()!)], [.. result.Items[2].Items.Select(r => r.AsString()!)]);
    }

    public async Task<long> LeaveAsync(string node)
    {
        var result = await redis.EvalAsync(ClusterScripts.Leave, [keys.Nodes, keys.Sequence, keys.Alive(node), keys.NodeSessions(node)], [keys.Prefix, keys.Events, node]).ConfigureAwait(false);
        return result.AsInt64();
    }

    /// <summary>
    /// The whole table: the sequence first, then every account hash (SCAN + pipelined HGETALL). An account written after
    /// the sequence was read may appear newer than it; the versions sort it out.
    /// </summary>
    public async Task<(long Start, List<(Jid Bare, long Version, IReadOnlyList<string> Flat)> Accounts)> SnapshotAsync()
    {
        var seq = await redis.ExecuteAsync("GET", keys.Sequence).ConfigureAwait(false);
        var start = seq.IsNull ? 0 : seq.AsInt64();
        var accounts = new List<(Jid, long, IReadOnlyList<string>)>();
        var cursor = "0";
        var pattern = keys.Account("*");
        var prefixLength = keys.Account("").Length;
        do
        {
            var page = await redis.ExecuteAsync("SCAN", cursor, "MATCH", pattern, "COUNT", 1000).ConfigureAwait(false);
            cursor = page.Items[0].AsString() ?? "0";
            var names = page.Items[1].Items;
            var reads = new Task<RedisResult>[names.Count];
            for (var i = 0; i < names.Count; i++) reads[i] = redis.ExecuteAsync("HGETALL", names[i].AsString()!);
            for (var i = 0; i < names.Count; i++)
            {
                var hash = await reads[i].ConfigureAwait(false);
                var key = names[i].AsString()!;
                if (!Jid.TryParse(key[prefixLength..], out var bare)) continue;
                var (version, flat) = Decode(hash);
                accounts.Add((bare, version, flat));
            }
        }
        while (cursor != "0");
        return (start, accounts);
    }

    /// <summary>One account's hash as it is now (version 0 and no fields when it has no session anywhere).</summary>
    public async Task<(long Version, IReadOnlyList<string> Flat)> ReadAccountAsync(Jid bare) =>
        Decode(await redis.ExecuteAsync("HGETALL", keys.Account(bare.Bare.ToString())).ConfigureAwait(false));

    private static (long Version, List<string> Flat) Decode(RedisResult hash)
    {
        var flat = hash.Items.Select(r => r.AsString() ?? "").ToList();
        long version = 0;
        for (var f = 0; f + 1 < flat.Count; f += 2)
        {
            if (flat[f] == "#v") long.TryParse(flat[f + 1], System.Globalization.CultureInfo.InvariantCulture, out version);
        }
        return (version, flat);
    }
}

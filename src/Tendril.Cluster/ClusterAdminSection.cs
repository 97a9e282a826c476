using System.Globalization;
using Tendril.Protocol;
using Tendril.Server.Admin;
using Tendril.Server.Routing;

namespace Tendril.Cluster;

/// <summary>
/// The admin page's view of the cluster (docs/admin.md): one row per node — this one from its own session table, the
/// others from this node's replica of the routing table (no Redis round trip). The page's Sessions list is this node's.
/// </summary>
public sealed class ClusterAdminSection(RedisCluster cluster) : IAdminSection
{
    public string Id => "cluster";

    public string Title => "Cluster nodes";

    public ValueTask<AdminTable> GetTableAsync(CancellationToken cancellationToken)
    {
        var counts = new SortedDictionary<string, Counts>(StringComparer.Ordinal);
        var local = new Counts();
        foreach (var session in cluster.Server.Sessions.All())
        {
            if (session.IsClosed) continue;
            local.Add(session.Jid, session.IsAvailable);
        }
        foreach (var remote in cluster.Mirror.All())
        {
            if (!counts.TryGetValue(remote.NodeId, out var c)) counts[remote.NodeId] = c = new Counts();
            c.Add(remote.Jid, remote.IsAvailable);
        }
        var live = cluster.LiveNodes;
        foreach (var node in live)
        {
            if (node != cluster.NodeId) counts.TryAdd(node, new Counts());
        }
        var rows = new List<IReadOnlyList<string>> { Row(cluster.NodeId + " (this node)", "live", local) };
        var total = local.Sessions;
        foreach (var (node, c) in counts)
        {
            rows.Add(Row(node, live.Contains(node) ? "live" : "not seen by the last sweep", c));
            total += c.Sessions;
        }
        var note = $"{total.ToString(CultureInfo.InvariantCulture)} sessions on {rows.Count.ToString(CultureInfo.InvariantCulture)} nodes, through Redis at {cluster.Options.Redis}. "
            + "Other nodes' sessions as this node's replica of the routing table holds them; Kick disconnects a JID on every node.";
        return ValueTask.FromResult(new AdminTable(["Node", "State", "Sessions", "Available", "Accounts"], rows, note));
    }

    private static IReadOnlyList<string> Row(string node, string state, Counts c) =>
        [node, state, c.Sessions.ToString(CultureInfo.InvariantCulture), c.Available.ToString(CultureInfo.InvariantCulture), c.Accounts.Count.ToString(CultureInfo.InvariantCulture)];

    private sealed class Counts
    {
        public int Sessions;
        public int Available;
        public readonly HashSet<Jid> Accounts = new(BareJidComparer.Instance);

        public void Add(Jid jid, bool available)
        {
            Sessions++;
            if (available) Available++;
            Accounts.Add(jid);
        }
    }
}

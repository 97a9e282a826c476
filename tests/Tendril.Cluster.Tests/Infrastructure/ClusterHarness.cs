using Tendril.Client;
using Tendril.Protocol;
using Tendril.Tests.Infrastructure;
using Tendril.Tests.Support;
using Tendril.Xml;

namespace Tendril.Cluster.Tests.Infrastructure;

/// <summary>
/// A real cluster on loopback: one redis-server, one PostgreSQL database shared by every node, and N real
/// <c>tendril serve</c> processes configured alike (only their ports and node names differ), so a node joins with no
/// change to the others.
/// </summary>
public sealed class ClusterHarness : IAsyncDisposable
{
    public const string Password = "secret-pass";
    public const string AdminJid = "admin@localhost";
    // The defaults: on a loaded 2-core machine running several nodes, shorter timeouts declare stalled nodes dead.
    public const int HeartbeatMs = 1000;
    public const int NodeTimeoutMs = 5000;
    private readonly string? _postgres;
    private readonly string? _sqlite;
    private int _nextNode;

    private ClusterHarness(RedisServer redis, string? postgres, string? sqlite)
    {
        Redis = redis;
        _postgres = postgres;
        _sqlite = sqlite;
    }

    public RedisServer Redis { get; }

    public List<TendrilProcess> Nodes { get; } = [];

    /// <summary>Extra settings of the Cluster section for every node (set before the first start).</summary>
    public Dictionary<string, object> ClusterSettings { get; } = [];

    public static Task<ClusterHarness> StartAsync(PostgresServer postgres, int nodes, params string[] users) => StartAsync(postgres, nodes, null, users);

    public static async Task<ClusterHarness> StartAsync(PostgresServer postgres, int nodes, Dictionary<string, object>? clusterSettings, params string[] users)
    {
        var harness = new ClusterHarness(new RedisServer(), await postgres.CreateDatabaseAsync("cluster"), null);
        return await harness.StartNodesAsync(nodes, clusterSettings, users);
    }

    /// <summary>The README's one-machine recipe: the nodes share one SQLite file.</summary>
    public static async Task<ClusterHarness> StartOnSqliteAsync(int nodes, params string[] users)
    {
        var file = Path.Combine(Path.GetTempPath(), "tendril-cluster-" + Guid.NewGuid().ToString("N"), "tendril.db");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var harness = new ClusterHarness(new RedisServer(), null, file);
        return await harness.StartNodesAsync(nodes, null, users);
    }

    private async Task<ClusterHarness> StartNodesAsync(int nodes, Dictionary<string, object>? clusterSettings, string[] users)
    {
        foreach (var (k, v) in clusterSettings ?? []) ClusterSettings[k] = v;
        try
        {
            await AddNodeAsync(users); // the first node's CLI creates the accounts in the shared store
            await Task.WhenAll(Enumerable.Range(1, nodes - 1).Select(_ => AddNodeAsync([])));
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
        return this;
    }

    /// <summary>Starts one more node with the same configuration as the others.</summary>
    public async Task<TendrilProcess> AddNodeAsync(IEnumerable<string> users)
    {
        var name = "n" + Interlocked.Increment(ref _nextNode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var node = await TendrilProcess.StartAsync(users.Select(u => (u, Password)), section =>
        {
            section["Storage"] = _postgres is not null
                ? new Dictionary<string, object> { ["Provider"] = "postgres", ["PostgresConnectionString"] = _postgres }
                : new Dictionary<string, object> { ["Provider"] = "sqlite", ["SqlitePath"] = _sqlite! };
            section["Registration"] = new Dictionary<string, object> { ["Enabled"] = true }; // in-band account removal
            section["Admin"] = new Dictionary<string, object> { ["Users"] = new[] { AdminJid } }; // when a test creates the account
            var cluster = new Dictionary<string, object>
            {
                ["Enabled"] = true,
                ["Redis"] = Redis.EndPoint,
                ["NodeId"] = name,
                ["HeartbeatIntervalMs"] = HeartbeatMs,
                ["NodeTimeoutMs"] = NodeTimeoutMs,
            };
            foreach (var (k, v) in ClusterSettings) cluster[k] = v;
            section["Cluster"] = cluster;
        });
        await node.WaitForLogAsync($"Cluster node {name} joined", timeout: TimeSpan.FromSeconds(60));
        lock (Nodes)
        {
            // Nodes[i] is node "n{i+1}", whatever order parallel starts finished in.
            var index = int.Parse(name[1..], System.Globalization.CultureInfo.InvariantCulture) - 1;
            while (Nodes.Count <= index) Nodes.Add(null!);
            Nodes[index] = node;
        }
        return node;
    }

    public static string NodeName(int index) => "n" + (index + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        foreach (var n in Nodes)
        {
            if (n is not null) await n.DisposeAsync();
        }
        Redis.Dispose();
        if (_sqlite is not null)
        {
            try
            {
                Directory.Delete(Path.GetDirectoryName(_sqlite)!, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>Client-side steps the cluster tests repeat.</summary>
public static class ClientSteps
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);

    /// <summary>Initial presence; returns once the server echoed it (the session is available everywhere after that).</summary>
    public static async Task OnlineAsync(this XmppClient client, int? priority = null, string? status = null)
    {
        await client.SendPresenceAsync(priority: priority, status: status);
        var me = client.Jid.ToString();
        await client.WaitForAsync(s => s.Name == "presence" && s.GetAttribute("from") == me && s.GetAttribute("type") is null, Wait);
    }

    public static async Task RequestRosterAsync(this XmppClient client)
    {
        var iq = new XmlElement("iq", Ns.Client).SetAttribute("type", "get");
        iq.AddElement("query", Ns.Roster);
        var result = await client.SendIqAsync(iq);
        Assert.Equal("result", result.GetAttribute("type"));
    }

    /// <summary>Mutual presence subscription through the RFC 6121 §3 exchange; both end up seeing each other available.</summary>
    public static async Task SubscribeMutuallyAsync(XmppClient a, XmppClient b)
    {
        await OneWayAsync(a, b);
        await OneWayAsync(b, a);

        static async Task OneWayAsync(XmppClient from, XmppClient to)
        {
            var fromBare = from.Jid.Bare.ToString();
            await from.SendPresenceAsync(to.Jid.Bare, "subscribe");
            await to.WaitForAsync(s => s.Name == "presence" && s.GetAttribute("type") == "subscribe" && Bare(s.GetAttribute("from")) == fromBare, Wait);
            await to.SendPresenceAsync(from.Jid.Bare, "subscribed");
            var toFull = to.Jid.ToString();
            await from.WaitForAsync(s => s.Name == "presence" && s.GetAttribute("type") is null && s.GetAttribute("from") == toFull, Wait);
        }
    }

    public static string? Bare(string? jid) => jid is not null && Jid.TryParse(jid, out var j) ? j.Bare.ToString() : null;

    public static Task<XmlElement> WaitMessageAsync(this XmppClient client, string body) =>
        client.WaitForAsync(s => s.Name == "message" && s.Element("body")?.Text == body, Wait);

    public static Task<XmlElement> WaitPresenceAsync(this XmppClient client, string from, string? type) =>
        client.WaitForAsync(s => s.Name == "presence" && s.GetAttribute("from") == from && s.GetAttribute("type") == type, Wait);

    /// <summary>
    /// <see cref="ArchiveAsync"/> asked again until it holds at least <paramref name="count"/> messages (another node's
    /// archive writer may not have written them yet; a query waits only for its own node's) or the wait is over.
    /// </summary>
    public static async Task<List<string>> ArchiveWhenAsync(this XmppClient client, string with, int count)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var bodies = await client.ArchiveAsync(with);
            if (bodies.Count >= count || DateTime.UtcNow > deadline) return bodies;
            await Task.Delay(200);
        }
    }

    /// <summary>The bodies of the client's archive with <paramref name="with"/> (XEP-0313 §4), in archive order.</summary>
    public static async Task<List<string>> ArchiveAsync(this XmppClient client, string with)
    {
        var queryId = "q" + Guid.NewGuid().ToString("N")[..8];
        var iq = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
        var query = iq.AddElement("query", "urn:xmpp:mam:2").SetAttribute("queryid", queryId);
        var form = query.AddElement("x", "jabber:x:data").SetAttribute("type", "submit");
        form.AddElement("field").SetAttribute("var", "FORM_TYPE").SetAttribute("type", "hidden").AddElement("value").Add("urn:xmpp:mam:2");
        form.AddElement("field").SetAttribute("var", "with").AddElement("value").Add(with);
        var fin = await client.SendIqAsync(iq);
        Assert.Equal("result", fin.GetAttribute("type"));
        var bodies = new List<string>();
        // The results precede the iq result on the stream; they are all in the backlog now.
        while (true)
        {
            XmlElement result;
            try
            {
                result = await client.WaitForAsync(s => s.Name == "message" && s.Element("result", "urn:xmpp:mam:2")?.GetAttribute("queryid") == queryId, TimeSpan.FromSeconds(2));
            }
            catch (TimeoutException)
            {
                break;
            }
            bodies.Add(result.Element("result", "urn:xmpp:mam:2")!.Element("forwarded", "urn:xmpp:forward:0")!.Element("message")!.Element("body")!.Text);
        }
        return bodies;
    }
}

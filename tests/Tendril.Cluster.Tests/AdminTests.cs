using System.Text.Json;
using Tendril.Cluster.Tests.Infrastructure;
using Tendril.Tests.Support;

namespace Tendril.Cluster.Tests;

/// <summary>The admin page's cluster section, read on one node through the JSON API as curl would.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AdminTests(PostgresFixture postgres)
{
    [Fact]
    public async Task The_cluster_section_counts_every_nodes_sessions_and_follows_a_logout_elsewhere()
    {
        await using var cluster = await ClusterHarness.StartAsync(postgres.Server, 3, ClusterHarness.AdminJid, "ann@localhost", "ben@localhost", "cat@localhost");
        await using var ann = await cluster.Nodes[0].ConnectAsync("ann@localhost", ClusterHarness.Password, "a");
        await using var benOne = await cluster.Nodes[1].ConnectAsync("ben@localhost", ClusterHarness.Password, "one");
        var benTwo = await cluster.Nodes[1].ConnectAsync("ben@localhost", ClusterHarness.Password, "two");
        await using var cat = await cluster.Nodes[2].ConnectAsync("cat@localhost", ClusterHarness.Password, "c");
        await ann.OnlineAsync();
        await benOne.OnlineAsync();
        await cat.OnlineAsync(); // ben/two stays bound without presence: a session, not available

        using var http = cluster.Nodes[0].HttpsClient(ClusterHarness.AdminJid, ClusterHarness.Password); // passwords over HTTPS only
        Assert.Contains("\"cluster\"", await http.GetStringAsync("admin/api/sections"), StringComparison.Ordinal);

        // Node, state, sessions, available, accounts — the other nodes' rows from node 1's replica, which catches up
        // within moments of each bind and presence.
        var expected = new[] { "n1 (this node)|live|1|1|1", "n2|live|2|1|1", "n3|live|1|1|1" };
        Assert.Equal(expected, await RowsWhenAsync(http, rows => rows.SequenceEqual(expected)));

        await benTwo.DisposeAsync();
        expected[1] = "n2|live|1|1|1";
        Assert.Equal(expected, await RowsWhenAsync(http, rows => rows.SequenceEqual(expected)));
        using var section = JsonDocument.Parse(await http.GetStringAsync("admin/api/sections/cluster"));
        Assert.StartsWith("3 sessions on 3 nodes", section.RootElement.GetProperty("note").GetString(), StringComparison.Ordinal);
    }

    private static async Task<string[]> RowsWhenAsync(HttpClient http, Func<string[], bool> done)
    {
        var deadline = DateTime.UtcNow + ClientSteps.Wait;
        while (true)
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync("admin/api/sections/cluster"));
            var rows = doc.RootElement.GetProperty("rows").EnumerateArray().Select(r => string.Join('|', r.EnumerateArray().Select(c => c.GetString()))).ToArray();
            if (done(rows) || DateTime.UtcNow > deadline) return rows;
            await Task.Delay(100);
        }
    }
}

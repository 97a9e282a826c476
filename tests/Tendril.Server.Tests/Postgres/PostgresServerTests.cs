using Tendril.Server.Features;
using Tendril.Protocol;
using Tendril.Server.Features.Disco;
using Tendril.Xml;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Storage;
using Tendril.Storage.Postgres;
using Tendril.Tests.Support;
using Xunit.Abstractions;

namespace Tendril.Server.Tests.Postgres;

/// <summary>
/// The whole server on PostgreSQL: an outage of the database while clients are connected, and the number of
/// statements a login costs.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresServerTests(PostgresFixture postgres, ITestOutputHelper output) : ImTestBase
{
    private string _connectionString = "";

    protected override async Task<TestServer> StartServerAsync()
    {
        _connectionString = await postgres.Server.CreateDatabaseAsync("srv");
        return await TestServer.StartAsync(Configure, storage: new PostgresStorage(_connectionString));
    }

    [Fact]
    public async Task While_postgres_is_down_an_offline_message_gets_a_wait_error_and_afterwards_it_is_stored_again()
    {
        await using var juliet = await LoginAsync("juliet", "balcony");
        await juliet.SendAsync("<message to='romeo@localhost' type='chat' id='before'><body>before</body></message>");
        Assert.Empty(await DrainAsync(juliet));
        Assert.Equal(1, await Server.Storage.Offline.CountAsync("localhost", "romeo"));

        await postgres.Server.StopAsync();
        try
        {
            // RFC 6120 §8.3.2: 'wait' — retry after waiting; the message was not stored and the sender knows it.
            await juliet.SendAsync("<message to='romeo@localhost' type='chat' id='during'><body>during</body></message>");
            var bounced = await juliet.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "during", TimeSpan.FromSeconds(60));
            AssertError(bounced, "internal-server-error", "wait");
            Assert.Equal("romeo@localhost", bounced.GetAttribute("from"));

            // A request that needs storage is answered with an error, not left hanging.
            var roster = await IqAsync(juliet, "get", "<query xmlns='jabber:iq:roster'/>");
            Assert.Equal("error", roster.GetAttribute("type"));

            // The sender's session is undisturbed: still bound, still answered.
            Assert.Empty(await DrainAsync(juliet));
        }
        finally
        {
            await postgres.Server.StartAsync();
        }

        // Recovered by itself: the next message is stored, the next request answered.
        await juliet.SendAsync("<message to='romeo@localhost' type='chat' id='after'><body>after</body></message>");
        Assert.Empty(await DrainAsync(juliet));
        Assert.Equal(2, await Server.Storage.Offline.CountAsync("localhost", "romeo"));
        Assert.Equal("result", (await IqAsync(juliet, "get", "<query xmlns='jabber:iq:roster'/>")).GetAttribute("type"));

        // Romeo gets exactly what was stored, in order.
        await using var romeo = await LoginAsync("romeo", "garden");
        var messages = (await DrainAsync(romeo)).Where(e => e.Name == "message").Select(m => m.GetAttribute("id")).ToList();
        Assert.Equal(["before", "after"], messages);
    }

    [Fact]
    public async Task A_login_costs_the_same_statements_whatever_the_size_of_the_roster_and_the_offline_queue()
    {
        await Server.AddUserAsync("small", "pw");
        await Server.AddUserAsync("large", "pw");
        await FillAsync("small", contacts: 3, pending: 1, offline: 2);
        await FillAsync("large", contacts: 60, pending: 12, offline: 40);
        await PostgresServer.ScalarAsync(_connectionString, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;");

        // A first login loads what the process then keeps (the pubsub.localhost service): not part of a login's cost.
        var (_, warmClient) = await LoginStatementsAsync("nurse", expectedMessages: 0);
        await using var warmSession = warmClient;
        // Both stay logged in until both are measured: a logout's writes must not land in the other's figures.
        var (small, smallClient) = await LoginStatementsAsync("small", expectedMessages: 2);
        await using var smallSession = smallClient;
        var (large, largeClient) = await LoginStatementsAsync("large", expectedMessages: 40);
        await using var largeSession = largeClient;
        output.WriteLine($"{large.Total} statements per login:\n{large.ByStatement}");
        Assert.True(small.ByStatement == large.ByStatement, $"small account:\n{small.ByStatement}\n\nlarge account:\n{large.ByStatement}");
        Assert.Equal(small.Total, large.Total);
    }

    private async Task FillAsync(string user, int contacts, int pending, int offline)
    {
        for (var i = 0; i < contacts; i++)
            await Server.Storage.Rosters.SetItemAsync("localhost", user, new RosterItem($"{user}-c{i}@localhost", $"C{i}", RosterSubscription.Both, false, false, ["G"]));
        for (var i = 0; i < pending; i++)
            await Server.Storage.Rosters.SetPendingAsync("localhost", user, new PendingSubscription($"p{i}@localhost", $"<presence from='p{i}@localhost' to='{user}@localhost' type='subscribe'/>", DateTimeOffset.UtcNow));
        for (var i = 0; i < offline; i++)
            await Server.Storage.Offline.StoreAsync("localhost", user, $"<message from='x@localhost/r' to='{user}@localhost' type='chat'><body>{i}</body></message>", DateTimeOffset.UtcNow, 1000);
    }

    /// <summary>Logs in (auth, bind, roster get, initial presence, offline delivery) and reads what PostgreSQL executed.</summary>
    private async Task<((long Total, string ByStatement) Statements, TestClient Client)> LoginStatementsAsync(string user, int expectedMessages)
    {
        await PostgresServer.ScalarAsync(_connectionString, "SELECT pg_stat_statements_reset();");
        var c = Server.Connect();
        await c.LoginAsync(user, "pw", "r", presence: false);
        await GetRosterAsync(c);
        // Initial presence with entity capabilities (XEP-0115) wanting avatar notifications, as real clients send: the
        // server asks for the features, then sends the newest PEP items of the user's and its contacts' nodes.
        var caps = new XmlElement("query", Ns.DiscoInfo);
        caps.AddElement("identity").SetAttribute("category", "client").SetAttribute("type", "pc").SetAttribute("name", user);
        caps.AddElement("feature").SetAttribute("var", Ns.DiscoInfo);
        caps.AddElement("feature").SetAttribute("var", "urn:xmpp:avatar:metadata+notify");
        var ver = EntityCapsHash.ComputeVer(caps, "sha-1")!;
        await c.SendAsync($"<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test:client' ver='{ver}'/></presence>");
        var received = 0;
        var answered = false;
        while (received < expectedMessages || !answered)
        {
            var e = await c.NextAsync();
            if (e.Name == "message") received++;
            if (e.Name == "iq" && e.GetAttribute("type") == "get" && e.Element("query", Ns.DiscoInfo) is { } query)
            {
                var answer = caps.Clone().SetAttribute("node", query.GetAttribute("node"));
                await c.SendAsync($"<iq type='result' id='{e.GetAttribute("id")}' to='localhost'>{answer}</iq>");
                answered = true;
            }
        }
        await DrainAsync(c);
        // Delivery deletes what it queued; wait for that write before reading the statistics (still logged in: the
        // logout's own writes are not part of the login).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await Server.Storage.Offline.CountAsync("localhost", user) > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        // PEP sends the contacts' last items in the background after the initial presence; its last storage call loads
        // the contacts' PEP services (pubsub_nodes). Wait for it.
        while (DateTime.UtcNow < deadline && (long)(await PostgresServer.ScalarAsync(_connectionString,
                   "SELECT COALESCE(SUM(calls), 0)::bigint FROM pg_stat_statements WHERE query LIKE '%FROM pubsub_nodes%'"))! == 0)
            await Task.Delay(20);
        var rows = await PostgresServer.QueryAsync(_connectionString, """
            SELECT query, calls FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'SELECT COUNT(*) FROM offline_messages%' -- the wait above
            ORDER BY query;
            """);
        var total = rows.Sum(r => (long)r[1]!);
        return ((total, string.Join("\n", rows.Select(r => $"{r[1]} × {r[0]}"))), c);
    }
}

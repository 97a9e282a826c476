using System.Globalization;
using Tendril.Cluster.Tests.Infrastructure;
using Tendril.Tests.Interop;
using Tendril.Tests.Support;

namespace Tendril.Cluster.Tests;

/// <summary>XEP-0198 resumption attempted on the wrong node, with python3-slixmpp as the client.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ResumeTests(PostgresFixture postgres)
{
    [Fact]
    public async Task A_resume_on_another_node_fails_and_the_new_session_gets_the_unacknowledged_messages_at_once()
    {
        await using var cluster = await ClusterHarness.StartAsync(postgres.Server, 2, "amy@localhost", "bo@localhost");
        using var result = await SlixmppScript.RunAsync(cluster.Nodes[0], "slixmpp_resume_elsewhere.py",
            cluster.Nodes[1].C2sPort.ToString(CultureInfo.InvariantCulture), "amy@localhost", ClusterHarness.Password, "bo@localhost", ClusterHarness.Password);
        var root = result.RootElement;
        // Both messages sent while the connection was down reached the new session, in order, from offline storage
        // (delay-stamped), within seconds — not after the 300 s resume timeout.
        var received = root.GetProperty("received").EnumerateArray().ToList();
        foreach (var body in new[] { "while dropped 1", "while dropped 2" })
        {
            Assert.Contains(received, m => m.GetProperty("body").GetString() == body && m.GetProperty("delayed").GetBoolean());
        }
        Assert.True(root.GetProperty("in_order").GetBoolean());
        Assert.NotEqual(root.GetProperty("first_jid").GetString(), root.GetProperty("second_jid").GetString());
    }
}

using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>
/// XEP-0198 against the real process with python3-slixmpp's xep_0198 plugin: the TCP connection is aborted from
/// Python, messages sent meanwhile wait in the hibernating session, and the resumed stream gets all of them.
/// </summary>
public sealed class SlixmppResumeTests
{
    [Fact]
    public async Task Slixmpp_resumes_after_a_dropped_tcp_connection_with_nothing_lost()
    {
        await using var server = await TendrilProcess.StartAsync([("alice@localhost", "alice-secret"), ("bob@localhost", "bob-secret")]);
        using var result = await SlixmppScript.RunAsync(server, "slixmpp_resume.py", "alice@localhost", "alice-secret", "bob@localhost", "bob-secret");
        var root = result.RootElement;
        Assert.Equal(root.GetProperty("first_jid").GetString(), root.GetProperty("resumed_jid").GetString());
        var bodies = root.GetProperty("a_received").EnumerateArray().Select(m => m.GetProperty("body").GetString()).ToList();
        Assert.Contains("before the drop", bodies);
        Assert.Contains("while dropped 1", bodies);
        Assert.Contains("while dropped 2", bodies);
        Assert.True(bodies.IndexOf("while dropped 1") < bodies.IndexOf("while dropped 2"), string.Join(", ", bodies));
        Assert.Contains(root.GetProperty("b_received").EnumerateArray(), m => m.GetProperty("body").GetString() == "back again");
    }
}

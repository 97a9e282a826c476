using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>
/// XEP-0198 against the real process with python3-slixmpp's xep_0198 plugin: the TCP connection is aborted from
/// Python, messages sent meanwhile wait in the hibernating session, and the resumed stream gets all of them.
/// </summary>
public sealed class SlixmppResumeTests
{
    private static string Script => Path.Combine(AppContext.BaseDirectory, "Interop", "slixmpp_resume.py");

    [Fact]
    public async Task Slixmpp_resumes_after_a_dropped_tcp_connection_with_nothing_lost()
    {
        Assert.True(File.Exists("/usr/bin/python3"), "Debian's python3 is required (test.sh installs python3-slixmpp).");
        await using var server = await TendrilProcess.StartAsync([("alice@localhost", "alice-secret"), ("bob@localhost", "bob-secret")]);
        var port = server.C2sPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, stdout, stderr) = await TendrilProcess.RunAsync("/usr/bin/python3", TimeSpan.FromSeconds(90),
            [Script, "127.0.0.1", port, "alice@localhost", "alice-secret", "bob@localhost", "bob-secret"]);
        Assert.True(code == 0, $"slixmpp failed ({code}):\n{stdout}\n{stderr}\n--- server log ---\n{server.Log}");

        using var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
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

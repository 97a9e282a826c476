using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>Message archive management (XEP-0313) with RSM paging (XEP-0059), against the real process with python3-slixmpp's xep_0313 plugin.</summary>
public sealed class SlixmppMamTests
{
    private static string Script => Path.Combine(AppContext.BaseDirectory, "Interop", "slixmpp_mam.py");

    [Fact]
    public async Task Mam_query_with_paging_with_slixmpp()
    {
        Assert.True(File.Exists("/usr/bin/python3"), "Debian's python3 is required (test.sh installs python3-slixmpp).");
        await using var server = await TendrilProcess.StartAsync([("alice@localhost", "alice-secret"), ("bob@localhost", "bob-secret")]);
        var port = server.C2sPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, stdout, stderr) = await TendrilProcess.RunAsync("/usr/bin/python3", TimeSpan.FromSeconds(90),
            [Script, "127.0.0.1", port, "alice@localhost", "alice-secret", "bob@localhost", "bob-secret"]);
        Assert.True(code == 0, $"slixmpp failed ({code}):\n{stdout}\n{stderr}\n--- server log ---\n{server.Log}");

        using var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var r = result.RootElement;
        var sids = r.GetProperty("stanza_ids").EnumerateArray().ToList();
        Assert.Equal(5, sids.Count);
        Assert.All(sids, s => Assert.Equal("alice@localhost", s.GetProperty("by").GetString()));

        string[] Strings(string name) => [.. r.GetProperty(name).EnumerateArray().Select(e => e.GetString()!)];
        Assert.Equal(["m1", "m2", "m3", "m4", "m5", "reply"], Strings("forward")); // with bob: both directions
        // The archive ids are the stanza ids the delivered messages carried.
        Assert.Equal([.. sids.Select(s => s.GetProperty("id").GetString()!), Strings("ids")[5]], Strings("ids"));
        Assert.Equal(["reply", "m5", "m4", "m3", "m2", "m1"], Strings("backward"));
        Assert.Equal(["m1", "m2", "m3", "m4", "m5", "reply"], Strings("b_archive"));
    }
}

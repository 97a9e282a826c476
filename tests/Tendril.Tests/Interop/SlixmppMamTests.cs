using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>Message archive management (XEP-0313) with RSM paging (XEP-0059), against the real process with python3-slixmpp's xep_0313 plugin.</summary>
public sealed class SlixmppMamTests
{
    [Fact]
    public async Task Mam_query_with_paging_with_slixmpp()
    {
        await using var server = await TendrilProcess.StartAsync([("alice@localhost", "alice-secret"), ("bob@localhost", "bob-secret")]);
        using var result = await SlixmppScript.RunAsync(server, "slixmpp_mam.py", "alice@localhost", "alice-secret", "bob@localhost", "bob-secret");
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

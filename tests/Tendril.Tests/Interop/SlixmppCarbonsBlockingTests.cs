using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>
/// Message carbons (XEP-0280) between two resources and the blocking command (XEP-0191), against the real process with
/// python3-slixmpp's xep_0280 and xep_0191 plugins.
/// </summary>
public sealed class SlixmppCarbonsBlockingTests
{
    [Fact]
    public async Task Carbons_between_two_resources_and_blocking_with_slixmpp()
    {
        await using var server = await TendrilProcess.StartAsync([("alice@localhost", "alice-secret"), ("bob@localhost", "bob-secret")]);
        using var result = await SlixmppScript.RunAsync(server, "slixmpp_carbons_blocking.py", "alice@localhost", "alice-secret", "bob@localhost", "bob-secret");
        var r = result.RootElement;

        // A2 saw both sides of A1's conversation, as copies from A's bare JID.
        var sent = r.GetProperty("sent");
        Assert.Equal("alice@localhost", sent.GetProperty("from").GetString());
        Assert.Equal("bob@localhost", sent.GetProperty("to").GetString());
        Assert.Equal("sent from one", sent.GetProperty("body").GetString());
        var received = r.GetProperty("received");
        Assert.Equal("alice@localhost", received.GetProperty("from").GetString());
        Assert.Equal(r.GetProperty("b").GetString(), received.GetProperty("inner_from").GetString());
        Assert.Equal("to one only", received.GetProperty("body").GetString());

        // Blocking: push to the other resource, the list, both directions refused, then unblocked.
        Assert.Equal(["bob@localhost"], r.GetProperty("push").GetProperty("items").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["bob@localhost"], r.GetProperty("blocklist").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("service-unavailable", r.GetProperty("b_error").GetProperty("condition").GetString());
        var refused = r.GetProperty("a_error");
        Assert.Equal("not-acceptable", refused.GetProperty("condition").GetString());
        Assert.Equal("cancel", refused.GetProperty("type").GetString());
        Assert.Equal(["{urn:xmpp:blocking:errors}blocked"], refused.GetProperty("app").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["bob@localhost"], r.GetProperty("unpush").GetProperty("items").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["to one only", "friends again"], r.GetProperty("a1_messages").EnumerateArray().Select(e => e.GetString()));
    }
}

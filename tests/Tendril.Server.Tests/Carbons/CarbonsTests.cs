using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Carbons;

/// <summary>XEP-0280 message carbons.</summary>
public sealed class CarbonsTests : ImTestBase
{
    private const string C = "urn:xmpp:carbons:2";
    private const string F = "urn:xmpp:forward:0";

    private static async Task EnableAsync(TestClient c) =>
        Assert.Equal("result", (await IqAsync(c, "set", "<enable xmlns='urn:xmpp:carbons:2'/>")).GetAttribute("type"));

    private static List<XmlElement> Messages(IEnumerable<XmlElement> received) => received.Where(e => e.Name == "message").ToList();

    /// <summary>The forwarded message inside a carbon, after checking the wrapper.</summary>
    private static XmlElement Carbon(XmlElement copy, string direction, TestClient to)
    {
        Assert.Equal(to.Jid![..to.Jid!.IndexOf('/', StringComparison.Ordinal)], copy.GetAttribute("from"));
        Assert.Equal(to.Jid, copy.GetAttribute("to"));
        return copy.Element(direction, C)!.Element("forwarded", F)!.Element("message", Ns.Client)!;
    }

    [Fact]
    public async Task Enable_and_disable_answer_result_even_when_repeated()
    {
        await using var juliet = await LoginAsync("juliet");
        await EnableAsync(juliet);
        await EnableAsync(juliet);
        Assert.Equal("result", (await IqAsync(juliet, "set", "<disable xmlns='urn:xmpp:carbons:2'/>")).GetAttribute("type"));
        Assert.Equal("result", (await IqAsync(juliet, "set", "<disable xmlns='urn:xmpp:carbons:2'/>")).GetAttribute("type"));
        AssertError(await IqAsync(juliet, "get", "<enable xmlns='urn:xmpp:carbons:2'/>"), "bad-request", "modify");
        await using var romeo = await LoginAsync("romeo");
        AssertError(await IqAsync(romeo, "set", "<enable xmlns='urn:xmpp:carbons:2'/>", "juliet@localhost"), "not-allowed", "cancel");
    }

    [Fact]
    public async Task Sent_and_received_messages_are_copied_to_other_enabled_resources()
    {
        await using var balcony = await LoginAsync("juliet", "balcony");
        await using var chamber = await LoginAsync("juliet", "chamber");
        await using var quiet = await LoginAsync("juliet", "quiet"); // carbons not enabled
        await using var romeo = await LoginAsync("romeo");
        await EnableAsync(balcony);
        await EnableAsync(chamber);

        // Sent by balcony: chamber gets a <sent/> copy; balcony itself and quiet get nothing.
        await balcony.SendAsync("<message to='romeo@localhost/r' type='chat' id='s1'><body>Wherefore art thou</body></message>");
        Assert.Equal("s1", (await romeo.WaitForAsync(e => e.Name == "message")).GetAttribute("id"));
        var sent = Assert.Single(Messages(await DrainAsync(chamber)));
        Assert.Equal("chat", sent.GetAttribute("type"));
        var inner = Carbon(sent, "sent", chamber);
        Assert.Equal("s1", inner.GetAttribute("id"));
        Assert.Equal("juliet@localhost/balcony", inner.GetAttribute("from"));
        Assert.Equal("romeo@localhost/r", inner.GetAttribute("to"));
        Assert.Empty(Messages(await DrainAsync(balcony)));
        Assert.Empty(Messages(await DrainAsync(quiet)));

        // Received at a full JID: the other enabled resource gets a <received/> copy.
        await romeo.SendAsync("<message to='juliet@localhost/balcony' type='chat' id='r1'><body>Here</body></message>");
        Assert.Equal("r1", (await balcony.WaitForAsync(e => e.Name == "message")).GetAttribute("id"));
        var received = Assert.Single(Messages(await DrainAsync(chamber)));
        Assert.Equal("r1", Carbon(received, "received", chamber).GetAttribute("id"));
        Assert.Empty(Messages(await DrainAsync(quiet)));

        // Received at the bare JID: every resource of the same priority gets the original, so no copies.
        await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='r2'><body>All of you</body></message>");
        foreach (var c in new[] { balcony, chamber, quiet })
        {
            // Waits for the message (routing awaits the archive write, so a ping on another stream may overtake it);
            // a carbon would have arrived first, and nothing follows.
            var only = await c.WaitForAsync(e => e.Name == "message");
            Assert.Equal("r2", only.GetAttribute("id"));
            Assert.Null(only.Element("received", C));
            Assert.Empty(Messages(await DrainAsync(c)));
        }
    }

    [Fact]
    public async Task Bare_jid_delivery_to_the_highest_priority_copies_to_the_lower_ones()
    {
        await using var high = await LoginAsync("juliet", "high", priority: 5);
        await using var low = await LoginAsync("juliet", "low", priority: 1);
        await using var romeo = await LoginAsync("romeo");
        await EnableAsync(high);
        await EnableAsync(low);
        await romeo.SendAsync("<message to='juliet@localhost' type='normal' id='n1'><body>to the bare JID</body></message>");
        Assert.Equal("n1", (await high.WaitForAsync(e => e.Name == "message")).GetAttribute("id"));
        var copy = Assert.Single(Messages(await DrainAsync(low)));
        Assert.Equal("normal", copy.GetAttribute("type"));
        Assert.Equal("n1", Carbon(copy, "received", low).GetAttribute("id"));
    }

    [Fact]
    public async Task Private_no_copy_and_ineligible_messages_are_not_copied()
    {
        await using var balcony = await LoginAsync("juliet", "balcony");
        await using var chamber = await LoginAsync("juliet", "chamber");
        await using var romeo = await LoginAsync("romeo");
        await using var romeo2 = await LoginAsync("romeo", "other");
        await EnableAsync(chamber);
        await EnableAsync(romeo2);

        await balcony.SendAsync("<message to='romeo@localhost/r' type='chat' id='p1'><body>secret</body><private xmlns='urn:xmpp:carbons:2'/></message>");
        var delivered = await romeo.WaitForAsync(e => e.Name == "message");
        Assert.Null(delivered.Element("private", C)); // §9: removed by the receiving server
        await balcony.SendAsync("<message to='romeo@localhost/r' type='chat' id='p2'><body>secret</body><no-copy xmlns='urn:xmpp:hints'/></message>");
        await balcony.SendAsync("<message to='romeo@localhost/r' type='headline' id='p3'><body>news</body></message>");
        await balcony.SendAsync("<message to='romeo@localhost/r' id='p4'><subject>no body</subject></message>");
        await balcony.SendAsync("<message to='romeo@localhost/r' type='normal' id='p5'><body>a normal one</body></message>");
        await DrainAsync(balcony);
        var romeoGot = Messages(await DrainAsync(romeo)).Select(m => m.GetAttribute("id")).ToList();
        Assert.Equal(["p2", "p3", "p4", "p5"], romeoGot);
        // Only the eligible normal message was copied, on both sides.
        var chamberCopies = Messages(await DrainAsync(chamber));
        Assert.Equal("p5", Carbon(Assert.Single(chamberCopies), "sent", chamber).GetAttribute("id"));
        var romeo2Copies = Messages(await DrainAsync(romeo2));
        Assert.Equal("p5", Carbon(Assert.Single(romeo2Copies), "received", romeo2).GetAttribute("id"));
    }

    [Fact]
    public async Task Disabled_and_closed_sessions_get_no_copies()
    {
        await using var balcony = await LoginAsync("juliet", "balcony");
        await using var chamber = await LoginAsync("juliet", "chamber");
        await using var romeo = await LoginAsync("romeo");
        await EnableAsync(chamber);
        Assert.Equal("result", (await IqAsync(chamber, "set", "<disable xmlns='urn:xmpp:carbons:2'/>")).GetAttribute("type"));
        await balcony.SendAsync("<message to='romeo@localhost/r' type='chat' id='d1'><body>x</body></message>");
        await romeo.WaitForAsync(e => e.Name == "message");
        Assert.Empty(Messages(await DrainAsync(chamber)));
    }
}

using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Blocking;

/// <summary>XEP-0191 blocking command: the list, pushes, and enforcement both ways.</summary>
public sealed class BlockingTests : ImTestBase
{
    private const string B = "urn:xmpp:blocking";

    private static List<string> ItemJids(XmlElement? container)
    {
        var list = new List<string>();
        if (container is null) return list;
        foreach (var item in container.Elements("item", B)) list.Add(item.GetAttribute("jid")!);
        return list;
    }

    private static async Task<List<string>> BlocklistAsync(TestClient c)
    {
        var result = await IqAsync(c, "get", "<blocklist xmlns='urn:xmpp:blocking'/>");
        Assert.Equal("result", result.GetAttribute("type"));
        return ItemJids(result.Element("blocklist", B));
    }

    [Fact]
    public async Task Block_and_unblock_change_the_list_and_push_to_resources_that_asked_for_it()
    {
        await using var balcony = await LoginAsync("juliet", "balcony");
        await using var chamber = await LoginAsync("juliet", "chamber");
        await using var quiet = await LoginAsync("juliet", "quiet");
        Assert.Empty(await BlocklistAsync(balcony));
        Assert.Empty(await BlocklistAsync(chamber));

        Assert.Equal("result", (await IqAsync(balcony, "set", "<block xmlns='urn:xmpp:blocking'><item jid='Romeo@LocalHost'/><item jid='iago@evil.example'/></block>")).GetAttribute("type"));
        foreach (var c in new[] { balcony, chamber })
        {
            var push = Assert.Single(await DrainAsync(c), e => e.Name == "iq" && e.GetAttribute("type") == "set");
            Assert.Equal(c.Jid, push.GetAttribute("to"));
            Assert.Equal(["romeo@localhost", "iago@evil.example"], ItemJids(push.Element("block", B)));
        }
        Assert.DoesNotContain(await DrainAsync(quiet), e => e.Name == "iq");
        Assert.Equal(["iago@evil.example", "romeo@localhost"], await BlocklistAsync(quiet));

        Assert.Equal("result", (await IqAsync(chamber, "set", "<unblock xmlns='urn:xmpp:blocking'><item jid='iago@evil.example'/></unblock>")).GetAttribute("type"));
        var unblockPush = Assert.Single(await DrainAsync(balcony), e => e.Name == "iq");
        Assert.Equal(["iago@evil.example"], ItemJids(unblockPush.Element("unblock", B)));
        Assert.Equal(["romeo@localhost"], await BlocklistAsync(balcony));

        Assert.Equal("result", (await IqAsync(balcony, "set", "<unblock xmlns='urn:xmpp:blocking'/>")).GetAttribute("type"));
        var quietPushes = (await DrainAsync(quiet)).Where(e => e.Name == "iq").ToList(); // quiet asked for the list by now
        Assert.Equal(2, quietPushes.Count);
        var allPush = quietPushes[1];
        Assert.NotNull(allPush.Element("unblock", B));
        Assert.Empty(ItemJids(allPush.Element("unblock", B)));
        Assert.Empty(await BlocklistAsync(chamber));
    }

    [Theory]
    [InlineData("set", "<block xmlns='urn:xmpp:blocking'/>", "bad-request", "modify")]
    [InlineData("set", "<block xmlns='urn:xmpp:blocking'><item/></block>", "bad-request", "modify")]
    [InlineData("set", "<block xmlns='urn:xmpp:blocking'><item jid='a@b@c'/></block>", "jid-malformed", "modify")]
    [InlineData("get", "<block xmlns='urn:xmpp:blocking'><item jid='a@b'/></block>", "bad-request", "modify")]
    [InlineData("set", "<blocklist xmlns='urn:xmpp:blocking'/>", "bad-request", "modify")]
    public async Task Bad_requests_are_refused(string type, string payload, string condition, string errorType)
    {
        await using var juliet = await LoginAsync("juliet");
        AssertError(await IqAsync(juliet, type, payload), condition, errorType);
    }

    [Fact]
    public async Task Someone_elses_blocklist_is_forbidden()
    {
        await using var romeo = await LoginAsync("romeo");
        AssertError(await IqAsync(romeo, "get", "<blocklist xmlns='urn:xmpp:blocking'/>", "juliet@localhost"), "forbidden", "auth");
        AssertError(await IqAsync(romeo, "set", "<block xmlns='urn:xmpp:blocking'><item jid='nurse@localhost'/></block>", "juliet@localhost"), "forbidden", "auth");
    }

    [Fact]
    public async Task Blocked_contact_is_refused_both_ways_and_sees_the_user_offline()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await MakeBothAsync(juliet, romeo);

        await IqAsync(juliet, "set", "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>");
        // §3.3: unavailable presence to the contact, who was subscribed.
        var gone = await romeo.WaitForAsync(e => e.Name == "presence");
        Assert.Equal("unavailable", gone.GetAttribute("type"));
        Assert.Equal(juliet.Jid, gone.GetAttribute("from"));

        // Inbound: message and iq get answered with service-unavailable, presence dropped silently.
        await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='m1'><body>hello?</body></message>");
        var bounced = await romeo.WaitForAsync(e => e.Name == "message");
        Assert.Equal("m1", bounced.GetAttribute("id"));
        AssertError(bounced, "service-unavailable", "cancel");
        AssertError(await IqAsync(romeo, "get", "<ping xmlns='urn:xmpp:ping'/>", juliet.Jid), "service-unavailable", "cancel");
        AssertError(await IqAsync(romeo, "get", "<vCard xmlns='vcard-temp'/>", "juliet@localhost"), "service-unavailable", "cancel");
        await romeo.SendAsync("<presence><status>still here</status></presence>");
        await romeo.SendAsync("<presence to='juliet@localhost' type='probe'/>");
        await romeo.SendAsync($"<presence to='{juliet.Jid}'><status>directed</status></presence>");
        Assert.DoesNotContain(await DrainAsync(romeo), e => e.GetAttribute("from") != romeo.Jid); // only its own presence, reflected
        Assert.Empty(await DrainAsync(juliet));

        // Outbound: not-acceptable with the blocked application condition; the user's broadcasts stop at the contact.
        await juliet.SendAsync("<message to='romeo@localhost/r' type='chat' id='m2'><body>go away</body></message>");
        var refused = await juliet.WaitForAsync(e => e.Name == "message");
        AssertError(refused, "not-acceptable", "cancel");
        Assert.NotNull(refused.Element("error")!.Element("blocked", "urn:xmpp:blocking:errors"));
        await juliet.SendAsync("<presence><status>new status</status></presence>");
        await DrainAsync(juliet);
        Assert.Empty(await DrainAsync(romeo));

        // Unblock: the contact gets the user's current presence; messages flow again.
        await IqAsync(juliet, "set", "<unblock xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></unblock>");
        var back = await romeo.WaitForAsync(e => e.Name == "presence");
        Assert.Null(back.GetAttribute("type"));
        Assert.Equal("new status", back.Element("status")!.Text);
        await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='m3'><body>again</body></message>");
        Assert.Equal("m3", (await juliet.WaitForAsync(e => e.Name == "message")).GetAttribute("id"));
    }

    [Fact]
    public async Task Offline_user_stays_blocked_and_nothing_is_stored_and_the_list_survives_a_restart()
    {
        await using (var juliet = await LoginAsync("juliet"))
        {
            await IqAsync(juliet, "set", "<block xmlns='urn:xmpp:blocking'><item jid='localhost/spy'/><item jid='romeo@localhost'/></block>");
        }
        var directory = Server.Directory;
        Server.KeepDirectory = true;
        await Server.DisposeAsync();
        await using var restarted = await TestServer.StartAsync(directory: directory);

        await using (var romeo = await LoginAsync("romeo", server: restarted))
        {
            await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='m1'><body>are you there?</body></message>");
            AssertError(await romeo.WaitForAsync(e => e.Name == "message"), "service-unavailable", "cancel");
        }
        Assert.Equal(0, await restarted.Storage.Offline.CountAsync("localhost", "juliet"));
        await using var nurse = await LoginAsync("nurse", "spy", server: restarted); // domain/resource matches
        await nurse.SendAsync("<message to='juliet@localhost' type='chat' id='m2'><body>psst</body></message>");
        AssertError(await nurse.WaitForAsync(e => e.Name == "message"), "service-unavailable", "cancel");
        await using var nurse2 = await LoginAsync("nurse", "kitchen", server: restarted);
        await nurse2.SendAsync("<message to='juliet@localhost' type='chat' id='m3'><body>hello</body></message>");
        Assert.DoesNotContain(await DrainAsync(nurse2), e => e.Name == "message");
        Assert.Equal(1, await restarted.Storage.Offline.CountAsync("localhost", "juliet"));

        await using var juliet2 = await LoginAsync("juliet", server: restarted, presence: false);
        Assert.Equal(["localhost/spy", "romeo@localhost"], await BlocklistAsync(juliet2));
    }
}

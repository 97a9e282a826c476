using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Presence;

/// <summary>RFC 6121 §4: probes on login, broadcast to subscribers, unavailable on logout and disconnect, directed presence, priorities.</summary>
public sealed class PresenceTests : ImTestBase
{
    [Fact]
    public async Task Initial_presence_gets_the_contacts_presence_and_reaches_the_subscribers()
    {
        await using (var j = await LoginAsync("juliet"))
        await using (var r = await LoginAsync("romeo"))
        {
            await MakeBothAsync(j, r);
            await j.SendAsync("<presence to='nurse@localhost' type='subscribe'/>"); // juliet → nurse: None+PendingOut
            await DrainAsync(j);
        }
        await using var nurse = await LoginAsync("nurse", roster: false);
        await nurse.SendAsync("<presence to='juliet@localhost' type='subscribed'/>"); // juliet: To nurse; nurse: From juliet
        await DrainAsync(nurse);
        await nurse.SendAsync("<presence type='unavailable'/>"); // nurse goes unavailable but stays connected
        await DrainAsync(nurse);

        await using var romeo = await LoginAsync("romeo", "garden", status: "here");
        var juliet = await LoginAsync("juliet", "balcony", presence: false);
        await juliet.SendAsync("<presence><status>hello</status></presence>");
        var got = await DrainAsync(juliet);
        // §4.3: probes answered by the server: romeo's last presence, and unavailable for nurse (no available resource).
        Assert.Equal("here", Assert.Single(Presences(got, null, romeo.Jid)).Element("status")!.Text);
        Assert.Single(Presences(got, "unavailable", "nurse@localhost"));
        // §4.2.2: romeo (from/both) gets the broadcast; nurse (to juliet's 'from'? no: nurse has From) … nurse is unavailable.
        var atRomeo = Assert.Single(Presences(await DrainAsync(romeo), null, juliet.Jid));
        Assert.Equal("hello", atRomeo.Element("status")!.Text);
        Assert.Equal(romeo.Jid, atRomeo.GetAttribute("to"));
        Assert.Empty(Presences(await DrainAsync(nurse), null, juliet.Jid)); // not available: no broadcast

        // Subsequent presence (§4.4) and unavailable on disconnect (§4.6.3 / §4.5).
        await juliet.SendAsync("<presence><show>away</show></presence>");
        await DrainAsync(juliet);
        Assert.Equal("away", Assert.Single(Presences(await DrainAsync(romeo), null, juliet.Jid)).Element("show")!.Text);
        await juliet.DisposeAsync();
        var gone = await romeo.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == "juliet@localhost/balcony");
        Assert.Equal("unavailable", gone.GetAttribute("type"));
        Assert.Empty(Presences(await DrainAsync(romeo), "unavailable")); // exactly once
    }

    [Fact]
    public async Task Contacts_without_a_subscription_get_no_broadcast()
    {
        await using var nurse = await LoginAsync("nurse");
        await using var romeo = await LoginAsync("romeo");
        await romeo.SendAsync("<presence to='juliet@localhost' type='subscribe'/>"); // romeo: PendingOut only
        await DrainAsync(romeo);
        await using var juliet = await LoginAsync("juliet");
        await juliet.SendAsync("<presence><show>chat</show></presence>");
        await DrainAsync(juliet);
        Assert.Empty(Presences(await DrainAsync(nurse), null, juliet.Jid));
        Assert.Empty(Presences(await DrainAsync(romeo), null, juliet.Jid));
    }

    [Fact]
    public async Task Explicit_unavailable_goes_to_subscribers_and_directed_recipients_once_each()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await using var nurse = await LoginAsync("nurse");
        await MakeBothAsync(juliet, romeo);
        // Directed presence to a subscriber and to a stranger (§4.6).
        await juliet.SendAsync("<presence to='romeo@localhost'/>");
        await juliet.SendAsync("<presence to='nurse@localhost/r'><status>psst</status></presence>");
        await DrainAsync(juliet);
        Assert.Single(Presences(await DrainAsync(romeo), null, juliet.Jid));
        Assert.Equal("psst", Assert.Single(Presences(await DrainAsync(nurse), null, juliet.Jid)).Element("status")!.Text);

        await juliet.SendAsync("<presence type='unavailable'/>");
        await DrainAsync(juliet);
        Assert.Single(Presences(await DrainAsync(romeo), "unavailable", juliet.Jid));
        Assert.Single(Presences(await DrainAsync(nurse), "unavailable", juliet.Jid));
    }

    [Fact]
    public async Task Directed_presence_to_a_stranger_ends_with_unavailable_on_disconnect()
    {
        await using var nurse = await LoginAsync("nurse");
        var juliet = await LoginAsync("juliet");
        await juliet.SendAsync("<presence to='nurse@localhost'/>");
        await DrainAsync(juliet);
        Assert.Single(Presences(await DrainAsync(nurse), null, juliet.Jid));
        await juliet.DisposeAsync();
        var gone = await nurse.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == "juliet@localhost/r");
        Assert.Equal("unavailable", gone.GetAttribute("type"));
    }

    [Fact]
    public async Task Probes_from_clients_are_answered_only_for_subscribers()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo", status: "secret");
        await juliet.SendAsync("<presence to='romeo@localhost' type='probe'/>");
        Assert.Empty(Presences(await DrainAsync(juliet), null, romeo.Jid)); // not subscribed: nothing revealed
        Assert.Empty(Presences(await DrainAsync(romeo), "probe")); // probes are never delivered to clients
        await MakeBothAsync(juliet, romeo);
        await juliet.SendAsync("<presence to='romeo@localhost' type='probe'/>");
        Assert.Equal("secret", Assert.Single(Presences(await DrainAsync(juliet), null, romeo.Jid)).Element("status")!.Text);
    }

    [Fact]
    public async Task A_new_resource_gets_the_presence_of_the_users_other_resources()
    {
        await using var one = await LoginAsync("juliet", "one", status: "first");
        await using var two = await LoginAsync("juliet", "two", presence: false);
        await two.SendAsync("<presence/>");
        Assert.Equal("first", Assert.Single(Presences(await DrainAsync(two), null, one.Jid)).Element("status")!.Text);
        Assert.Single(Presences(await DrainAsync(one), null, two.Jid));
    }

    [Fact]
    public async Task Negative_priority_resource_gets_presence_but_no_bare_jid_messages()
    {
        await using var romeo = await LoginAsync("romeo");
        await using var juliet = await LoginAsync("juliet", "hidden", priority: -1);
        await MakeBothAsync(juliet, romeo);
        await romeo.SendAsync("<presence><show>xa</show></presence>");
        await DrainAsync(romeo);
        Assert.Single(Presences(await DrainAsync(juliet), null, romeo.Jid));
        // §8.5.2.1.1: only negative resources = no available resource for bare-JID messages: stored offline.
        await romeo.SendAsync("<message to='juliet@localhost' type='chat'><body>hi</body></message>");
        Assert.Empty(await DrainAsync(romeo)); // no error: it was stored
        Assert.DoesNotContain(await DrainAsync(juliet), e => e.Name == "message");
        Assert.Equal(1, await Server.Storage.Offline.CountAsync("localhost", "juliet"));
        // A full-JID message still reaches it.
        await romeo.SendAsync($"<message to='{juliet.Jid}' type='chat'><body>direct</body></message>");
        Assert.Equal("direct", (await juliet.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
    }
}

using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Presence;

/// <summary>RFC 6121 §3 between two local users: handshake, pre-approval, cancellation, unsubscription, offline contacts.</summary>
public sealed class SubscriptionTests : ImTestBase
{
    [Fact]
    public async Task Handshake_both_ways_with_pushes_and_presence_at_each_step()
    {
        await using var juliet = await LoginAsync("juliet", "balcony", status: "waiting");
        await using var romeo = await LoginAsync("romeo", "garden", status: "in the garden");

        // A.2.1 None → None+PendingOut; A.3.1 None → None+PendingIn (delivered).
        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribe' id='s1'><status>let me see you</status></presence>");
        var j1 = await DrainAsync(juliet);
        AssertItem(Assert.Single(Pushes(j1)), "romeo@localhost", "none", ask: true);
        var r1 = await DrainAsync(romeo);
        var request = Assert.Single(Presences(r1, "subscribe"));
        Assert.Equal("juliet@localhost", request.GetAttribute("from")); // stamped with the bare JID (§3.1.2)
        Assert.Equal("romeo@localhost", request.GetAttribute("to"));
        Assert.Equal("s1", request.GetAttribute("id"));
        Assert.Equal("let me see you", request.Element("status")!.Text);
        Assert.Empty(Pushes(r1)); // a pending request is not a roster item (§3.1.3)

        // A.2.2 None+PendingIn → From; A.3.2 None+PendingOut → To; then romeo's presence reaches juliet (§3.1.5).
        await romeo.SendAsync("<presence to='juliet@localhost' type='subscribed'/>");
        var r2 = await DrainAsync(romeo);
        AssertItem(Assert.Single(Pushes(r2)), "juliet@localhost", "from");
        var j2 = await DrainAsync(juliet);
        Assert.Single(Presences(j2, "subscribed", "romeo@localhost"));
        AssertItem(Assert.Single(Pushes(j2)), "romeo@localhost", "to");
        var seen = Assert.Single(Presences(j2, null, romeo.Jid));
        Assert.Equal("in the garden", seen.Element("status")!.Text);

        // And back: From → From+PendingOut; To → To+PendingIn; then Both on each side.
        await romeo.SendAsync("<presence to='juliet@localhost' type='subscribe'/>");
        AssertItem(Assert.Single(Pushes(await DrainAsync(romeo))), "juliet@localhost", "from", ask: true);
        Assert.Single(Presences(await DrainAsync(juliet), "subscribe", "romeo@localhost"));
        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribed'/>");
        AssertItem(Assert.Single(Pushes(await DrainAsync(juliet))), "romeo@localhost", "both");
        var r4 = await DrainAsync(romeo);
        AssertItem(Assert.Single(Pushes(r4)), "juliet@localhost", "both");
        Assert.Single(Presences(r4, "subscribed", "juliet@localhost"));
        Assert.Equal("waiting", Assert.Single(Presences(r4, null, juliet.Jid)).Element("status")!.Text);
    }

    [Fact]
    public async Task Request_to_an_offline_contact_is_delivered_at_its_next_login_until_answered()
    {
        await using var juliet = await LoginAsync("juliet");
        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribe'><status>from afar</status></presence>");
        await DrainAsync(juliet);

        // Bound but not yet available: nothing; initial presence: the request.
        var romeo = await LoginAsync("romeo", "one", presence: false);
        Assert.Empty(Presences(await DrainAsync(romeo), "subscribe"));
        await romeo.SendAsync("<presence/>");
        var got = await DrainAsync(romeo);
        var request = Assert.Single(Presences(got, "subscribe", "juliet@localhost"));
        Assert.Equal("from afar", request.Element("status")!.Text);
        await romeo.DisposeAsync();

        // Still pending: delivered again at the next login; answered, it is gone.
        await using var again = await LoginAsync("romeo", "two", presence: false);
        await again.SendAsync("<presence/>");
        Assert.Single(Presences(await DrainAsync(again), "subscribe", "juliet@localhost"));
        await again.SendAsync("<presence to='juliet@localhost' type='subscribed'/>");
        await DrainAsync(again);
        AssertItem(Assert.Single(Pushes(await DrainAsync(juliet))), "romeo@localhost", "to");
        await using var third = await LoginAsync("romeo", "three", presence: false);
        await third.SendAsync("<presence/>");
        Assert.Empty(Presences(await DrainAsync(third), "subscribe"));
    }

    [Fact]
    public async Task Pre_approved_request_is_approved_by_the_server()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        // §3.4: subscribed with no pending request = pre-approval, pushed with approved='true', not routed.
        await romeo.SendAsync("<presence to='juliet@localhost' type='subscribed'/>");
        AssertItem(Assert.Single(Pushes(await DrainAsync(romeo))), "juliet@localhost", "none", approved: true);
        Assert.Empty(await DrainAsync(juliet));

        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribe'/>");
        var j = await DrainAsync(juliet);
        Assert.Single(Presences(j, "subscribed", "romeo@localhost"));
        AssertItem(Pushes(j)[^1], "romeo@localhost", "to");
        Assert.Single(Presences(j, null, romeo.Jid));
        var r = await DrainAsync(romeo);
        Assert.Empty(Presences(r, "subscribe")); // never asked
        AssertItem(Assert.Single(Pushes(r)), "juliet@localhost", "from"); // the approval is used up
    }

    [Fact]
    public async Task Pre_approval_is_cancelled_by_unsubscribed()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await romeo.SendAsync("<presence to='juliet@localhost' type='subscribed'/>");
        await DrainAsync(romeo);
        await romeo.SendAsync("<presence to='juliet@localhost' type='unsubscribed'/>");
        AssertItem(Assert.Single(Pushes(await DrainAsync(romeo))), "juliet@localhost", "none");
        Assert.Empty(await DrainAsync(juliet)); // no state change: nothing routed

        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribe'/>");
        await DrainAsync(juliet);
        Assert.Single(Presences(await DrainAsync(romeo), "subscribe", "juliet@localhost"));
    }

    [Fact]
    public async Task Subscribe_when_already_subscribed_is_answered_by_the_server_and_changes_nothing()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await MakeBothAsync(juliet, romeo);
        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribe'/>");
        // A.2.1 Both: no state change; A.3.1 From/Both: not delivered, the server replies subscribed for romeo;
        // A.3.2 Both: that reply changes nothing for juliet, so it is not delivered either (§3.1.6).
        Assert.Empty(await DrainAsync(juliet));
        Assert.Empty(await DrainAsync(romeo));
        AssertItem((await ItemAsync(juliet, "romeo@localhost"))!, "romeo@localhost", "both");
    }

    [Fact]
    public async Task Denied_request_clears_pending_out()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribe'/>");
        await DrainAsync(juliet);
        await DrainAsync(romeo);
        // A.2.4 None+PendingIn → None (no item for romeo: nothing pushed); A.3.4 None+PendingOut → None.
        await romeo.SendAsync("<presence to='juliet@localhost' type='unsubscribed'/>");
        Assert.Empty(Pushes(await DrainAsync(romeo)));
        var j = await DrainAsync(juliet);
        Assert.Single(Presences(j, "unsubscribed", "romeo@localhost"));
        AssertItem(Assert.Single(Pushes(j)), "romeo@localhost", "none");
        // The request is no longer pending for romeo's next login.
        await using var later = await LoginAsync("romeo", "later", presence: false);
        await later.SendAsync("<presence/>");
        Assert.Empty(Presences(await DrainAsync(later), "subscribe"));
    }

    [Fact]
    public async Task Cancelled_request_disappears_from_the_contact()
    {
        await using var juliet = await LoginAsync("juliet");
        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribe'/>");
        await DrainAsync(juliet);
        // A.2.3 None+PendingOut → None; A.3.3 None+PendingIn → None.
        await juliet.SendAsync("<presence to='romeo@localhost' type='unsubscribe'/>");
        AssertItem(Assert.Single(Pushes(await DrainAsync(juliet))), "romeo@localhost", "none");
        await using var romeo = await LoginAsync("romeo", presence: false);
        await romeo.SendAsync("<presence/>");
        Assert.Empty(Presences(await DrainAsync(romeo), "subscribe"));
    }

    [Fact]
    public async Task Unsubscribe_from_both_leaves_from_and_the_contact_goes_unavailable()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await MakeBothAsync(juliet, romeo);
        // A.2.3 Both → From; A.3.3 Both → To.
        await juliet.SendAsync("<presence to='romeo@localhost' type='unsubscribe'/>");
        var j = await DrainAsync(juliet);
        AssertItem(Assert.Single(Pushes(j)), "romeo@localhost", "from");
        Assert.Single(Presences(j, "unavailable", romeo.Jid)); // §3.3.3: juliet no longer sees romeo
        var r = await DrainAsync(romeo);
        Assert.Single(Presences(r, "unsubscribe", "juliet@localhost"));
        AssertItem(Assert.Single(Pushes(r)), "juliet@localhost", "to");

        // romeo still sees juliet's presence; juliet no longer sees romeo's.
        await juliet.SendAsync("<presence><show>away</show></presence>");
        await DrainAsync(juliet);
        Assert.Single(Presences(await DrainAsync(romeo), null, juliet.Jid));
        await romeo.SendAsync("<presence><show>dnd</show></presence>");
        await DrainAsync(romeo);
        Assert.Empty(Presences(await DrainAsync(juliet), null, romeo.Jid));
    }

    [Fact]
    public async Task Unsubscribed_cancels_the_contacts_subscription()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await MakeBothAsync(juliet, romeo);
        // A.2.4 Both → To; A.3.4 Both → From; romeo stops seeing juliet.
        await juliet.SendAsync("<presence to='romeo@localhost' type='unsubscribed'/>");
        AssertItem(Assert.Single(Pushes(await DrainAsync(juliet))), "romeo@localhost", "to");
        var r = await DrainAsync(romeo);
        Assert.Single(Presences(r, "unsubscribed", "juliet@localhost"));
        AssertItem(Assert.Single(Pushes(r)), "juliet@localhost", "from");
        Assert.Single(Presences(r, "unavailable", juliet.Jid));
        // Sending it again changes nothing and routes nothing.
        await juliet.SendAsync("<presence to='romeo@localhost' type='unsubscribed'/>");
        Assert.Empty(Pushes(await DrainAsync(juliet)));
        Assert.Empty(await DrainAsync(romeo));
    }

    [Fact]
    public async Task Subscribe_to_a_user_that_does_not_exist_is_rejected_by_the_server()
    {
        await using var juliet = await LoginAsync("juliet");
        await juliet.SendAsync("<presence to='ghost@localhost' type='subscribe'/>");
        var j = await DrainAsync(juliet);
        Assert.Single(Presences(j, "unsubscribed", "ghost@localhost"));
        var pushes = Pushes(j);
        AssertItem(pushes[0], "ghost@localhost", "none", ask: true);
        AssertItem(pushes[^1], "ghost@localhost", "none");
    }

    [Fact]
    public async Task Subscription_to_another_domain_is_remote_server_not_found()
    {
        await using var juliet = await LoginAsync("juliet");
        await juliet.SendAsync("<presence to='romeo@example.net' type='subscribe' id='x'/>");
        var error = Assert.Single(await DrainAsync(juliet), e => e.Name == "presence");
        AssertError(error, "remote-server-not-found", "cancel");
    }

    [Fact]
    public async Task Subscription_stanza_to_a_full_jid_is_handled_for_the_bare_jid()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo", "garden");
        await juliet.SendAsync("<presence to='romeo@localhost/garden' type='subscribe'/>");
        AssertItem(Assert.Single(Pushes(await DrainAsync(juliet))), "romeo@localhost", "none", ask: true);
        Assert.Equal("romeo@localhost", Assert.Single(Presences(await DrainAsync(romeo), "subscribe")).GetAttribute("to"));
    }
}

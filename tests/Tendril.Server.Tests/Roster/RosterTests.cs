using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Roster;

/// <summary>RFC 6121 §2: roster get, set, update, remove, pushes to interested resources, errors, versioning.</summary>
public sealed class RosterTests : ImTestBase
{
    [Fact]
    public async Task Stream_features_advertise_roster_versioning_and_pre_approval()
    {
        var c = Server.Connect();
        var features = await c.AuthenticateAsync("juliet", "pw");
        Assert.NotNull(features.Element("ver", "urn:xmpp:features:rosterver"));
        Assert.NotNull(features.Element("sub", "urn:xmpp:features:pre-approval"));
        await c.DisposeAsync();
    }

    [Fact]
    public async Task Set_adds_an_item_and_pushes_it_to_every_interested_resource_only()
    {
        await using var balcony = await LoginAsync("juliet", "balcony");
        await using var chamber = await LoginAsync("juliet", "chamber");
        await using var quiet = await LoginAsync("juliet", "quiet", roster: false); // never asked for the roster
        Assert.Empty(Items(await GetRosterAsync(balcony)));

        var result = await RosterSetAsync(balcony, "<item jid='nurse@localhost' name='Nurse'><group>Servants</group></item>");
        Assert.Equal("result", result.GetAttribute("type"));
        Assert.Null(result.Element("query", Ns.Roster)); // the result is empty; the item comes as a push

        foreach (var c in new[] { balcony, chamber })
        {
            var pushes = (await DrainAsync(c)).Where(e => e.Name == "iq" && e.GetAttribute("type") == "set").ToList();
            var push = Assert.Single(pushes);
            Assert.Equal(c.Jid, push.GetAttribute("to"));
            Assert.Null(push.GetAttribute("from")); // from the user's account itself
            var item = Assert.Single(Items(push));
            AssertItem(item, "nurse@localhost", "none");
            Assert.Equal("Nurse", item.GetAttribute("name"));
            Assert.Equal("Servants", item.Element("group", Ns.Roster)!.Text);
            await c.SendAsync($"<iq type='result' id='{push.GetAttribute("id")}'/>"); // clients answer pushes; harmless
        }
        Assert.Empty(Pushes(await DrainAsync(quiet)));

        var roster = await GetRosterAsync(quiet);
        var stored = Assert.Single(Items(roster));
        AssertItem(stored, "nurse@localhost", "none");
        Assert.Equal("Nurse", stored.GetAttribute("name"));
    }

    [Fact]
    public async Task Update_replaces_name_and_groups_and_keeps_the_subscription()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await MakeBothAsync(juliet, romeo);
        var result = await RosterSetAsync(juliet, "<item jid='romeo@localhost' name='My Romeo' subscription='none' ask='subscribe'><group>Lovers</group><group>Montagues</group></item>");
        Assert.Equal("result", result.GetAttribute("type"));
        var item = Assert.Single(Pushes(await DrainAsync(juliet)));
        AssertItem(item, "romeo@localhost", "both"); // 'subscription' and 'ask' from the client are ignored (§2.1.2.5)
        Assert.Equal("My Romeo", item.GetAttribute("name"));
        var groups = new List<string>();
        foreach (var g in item.Elements("group", Ns.Roster)) groups.Add(g.Text);
        Assert.Equal(["Lovers", "Montagues"], groups);

        await RosterSetAsync(juliet, "<item jid='romeo@localhost'/>");
        var cleared = (await ItemAsync(juliet, "romeo@localhost"))!;
        Assert.Null(cleared.GetAttribute("name"));
        Assert.Null(cleared.Element("group", Ns.Roster));
        Assert.Equal("both", cleared.GetAttribute("subscription"));
    }

    [Theory]
    [InlineData("<item jid='a@localhost'/><item jid='b@localhost'/>", "bad-request", "modify")]
    [InlineData("", "bad-request", "modify")]
    [InlineData("<item name='no jid'/>", "bad-request", "modify")]
    [InlineData("<item jid='a@localhost'><group>G</group><group>G</group></item>", "bad-request", "modify")]
    [InlineData("<item jid='a@localhost'><group></group></item>", "not-acceptable", "modify")]
    [InlineData("<item jid='juliet@localhost'/>", "not-allowed", "cancel")]
    [InlineData("<item jid='a@b@c'/>", "jid-malformed", "modify")]
    [InlineData("<item jid='nobody@localhost' subscription='remove'/>", "item-not-found", "cancel")]
    public async Task Invalid_roster_sets_are_refused(string items, string condition, string type)
    {
        await using var juliet = await LoginAsync("juliet");
        AssertError(await RosterSetAsync(juliet, items), condition, type);
        Assert.Empty(Pushes(await DrainAsync(juliet)));
        Assert.Empty(Items(await GetRosterAsync(juliet)));
    }

    [Fact]
    public async Task Over_long_name_or_group_is_not_acceptable()
    {
        await using var juliet = await LoginAsync("juliet");
        var longText = new string('x', 1024);
        AssertError(await RosterSetAsync(juliet, $"<item jid='a@localhost' name='{longText}'/>"), "not-acceptable", "modify");
        AssertError(await RosterSetAsync(juliet, $"<item jid='a@localhost'><group>{longText}</group></item>"), "not-acceptable", "modify");
        Assert.Equal("result", (await RosterSetAsync(juliet, $"<item jid='a@localhost' name='{longText[..1023]}'/>")).GetAttribute("type"));
    }

    [Fact]
    public async Task Another_users_roster_is_forbidden()
    {
        await using var juliet = await LoginAsync("juliet");
        AssertError(await RosterSetAsync(juliet, "<item jid='a@localhost'/>", to: "romeo@localhost"), "forbidden", "auth");
        var id = NextId();
        await juliet.SendAsync($"<iq type='get' id='{id}' to='romeo@localhost'><query xmlns='jabber:iq:roster'/></iq>");
        AssertError(await juliet.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == id), "forbidden", "auth");
    }

    [Fact]
    public async Task Versioning_returns_an_empty_result_when_unchanged_and_the_roster_when_not()
    {
        await using var juliet = await LoginAsync("juliet", roster: false);
        var first = await GetRosterAsync(juliet, ver: "");
        Assert.Equal("0", first.Element("query", Ns.Roster)!.GetAttribute("ver"));
        Assert.Empty(Items(first));

        var unchanged = await GetRosterAsync(juliet, ver: "0");
        Assert.Null(unchanged.Element("query", Ns.Roster)); // §2.6.3: empty result

        await RosterSetAsync(juliet, "<item jid='nurse@localhost'/>");
        var push = (await DrainAsync(juliet)).Single(e => e.Name == "iq" && e.GetAttribute("type") == "set");
        Assert.Equal("1", push.Element("query", Ns.Roster)!.GetAttribute("ver")); // pushes carry the new version

        Assert.Null((await GetRosterAsync(juliet, ver: "1")).Element("query", Ns.Roster));
        // Without 'ver' the client does not use versioning: no 'ver' in the answer.
        Assert.Null((await GetRosterAsync(juliet)).Element("query", Ns.Roster)!.GetAttribute("ver"));
        // A version this server did not write, or one newer than the roster: the whole roster with the current version.
        foreach (var unknown in new[] { "garbage", "-1", "99" })
        {
            var full = await GetRosterAsync(juliet, ver: unknown);
            Assert.Equal("1", full.Element("query", Ns.Roster)!.GetAttribute("ver"));
            Assert.Single(Items(full));
        }
    }

    [Fact]
    public async Task Versioning_with_an_older_version_answers_empty_then_pushes_each_change_since_to_that_resource()
    {
        await using var balcony = await LoginAsync("juliet", "balcony", roster: false, presence: false);
        await GetRosterAsync(balcony, ver: "");
        await RosterSetAsync(balcony, "<item jid='nurse@localhost'/>");                         // 1
        await RosterSetAsync(balcony, "<item jid='tybalt@localhost'/>");                        // 2
        await RosterSetAsync(balcony, "<item jid='nurse@localhost' name='Nurse'/>");            // 3
        await RosterSetAsync(balcony, "<item jid='benvolio@localhost'/>");                      // 4
        await RosterSetAsync(balcony, "<item jid='tybalt@localhost' subscription='remove'/>");  // 5
        await DrainAsync(balcony);

        // A phone that cached version 1 (nurse, unnamed) comes back.
        await using var phone = await LoginAsync("juliet", "phone", roster: false, presence: false);
        var result = await GetRosterAsync(phone, ver: "1");
        Assert.Null(result.Element("query", Ns.Roster)); // §2.6.3: empty result, the changes follow as pushes
        var pushes = (await DrainAsync(phone)).Where(e => e.Name == "iq" && e.GetAttribute("type") == "set").ToList();
        Assert.Equal(["3 nurse@localhost none Nurse", "4 benvolio@localhost none ", "5 tybalt@localhost remove "],
            pushes.Select(p =>
            {
                var query = p.Element("query", Ns.Roster)!;
                var item = Assert.Single(Items(p));
                return $"{query.GetAttribute("ver")} {item.GetAttribute("jid")} {item.GetAttribute("subscription")} {item.GetAttribute("name")}";
            }));
        Assert.All(pushes, p => Assert.Equal(phone.Jid, p.GetAttribute("to")));
        Assert.Empty(Pushes(await DrainAsync(balcony))); // interim pushes go to the resource that asked only

        // Up to date now: nothing more; later changes reach it as ordinary versioned pushes.
        Assert.Null((await GetRosterAsync(phone, ver: "5")).Element("query", Ns.Roster));
        Assert.Empty(Pushes(await DrainAsync(phone)));
        await RosterSetAsync(balcony, "<item jid='romeo@localhost'/>");
        var live = (await DrainAsync(phone)).Single(e => e.Name == "iq" && e.GetAttribute("type") == "set");
        Assert.Equal("6", live.Element("query", Ns.Roster)!.GetAttribute("ver"));
    }

    [Fact]
    public async Task Remove_pushes_the_removal_and_cancels_both_subscriptions()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await MakeBothAsync(juliet, romeo);
        AssertItem((await ItemAsync(juliet, "romeo@localhost"))!, "romeo@localhost", "both");
        AssertItem((await ItemAsync(romeo, "juliet@localhost"))!, "juliet@localhost", "both");

        var result = await RosterSetAsync(juliet, "<item jid='romeo@localhost' subscription='remove'/>");
        Assert.Equal("result", result.GetAttribute("type"));
        var push = Assert.Single(Pushes(await DrainAsync(juliet)));
        Assert.Equal("remove", push.GetAttribute("subscription"));
        Assert.Null(await ItemAsync(juliet, "romeo@localhost"));

        var got = await DrainAsync(romeo);
        Assert.Single(Presences(got, "unsubscribe", "juliet@localhost"));
        Assert.Single(Presences(got, "unsubscribed", "juliet@localhost"));
        Assert.Single(Presences(got, "unavailable", juliet.Jid)); // romeo no longer sees juliet
        AssertItem(Pushes(got)[^1], "juliet@localhost", "none");
        AssertItem((await ItemAsync(romeo, "juliet@localhost"))!, "juliet@localhost", "none");
    }
}

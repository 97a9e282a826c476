using System.Globalization;
using Tendril.Server.Configuration;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Tests.Roster;

/// <summary>
/// Issue 19: a roster and its pending requests are bounded (Roster:MaxItems, Roster:MaxPendingRequests), so a roster
/// get is too; what would pass the limits is refused with an error and changes nothing.
/// </summary>
public sealed class RosterLimitTests : ImTestBase
{
    private const int MaxItems = 10, MaxPending = 10;

    protected override void Configure(Configuration.TendrilOptions options)
    {
        options.Roster.MaxItems = MaxItems;
        options.Roster.MaxPendingRequests = MaxPending;
    }

    private static string Item(int i) => string.Create(CultureInfo.InvariantCulture, $"<item jid='contact{i}@example.org' name='Contact {i}'/>");

    [Fact]
    public async Task A_full_roster_refuses_a_new_item_and_a_subscription_request_but_takes_updates_and_room_made_by_a_removal()
    {
        var juliet = await LoginAsync("juliet");
        for (var i = 0; i < MaxItems; i++) Assert.Equal("result", (await RosterSetAsync(juliet, Item(i))).GetAttribute("type"));

        var refused = await RosterSetAsync(juliet, Item(MaxItems));
        AssertError(refused, "not-allowed", "cancel");
        Assert.Contains("full", refused.Element("error")!.Element("text", Protocol.Ns.Stanzas)!.Text, StringComparison.Ordinal);
        // An existing item can still be changed.
        Assert.Equal("result", (await RosterSetAsync(juliet, "<item jid='contact0@example.org' name='Renamed'/>")).GetAttribute("type"));

        // A subscription request to someone not in the roster would add an item: refused, and romeo never hears of it.
        var romeo = await LoginAsync("romeo");
        await DrainAsync(juliet);
        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribe' id='s1'/>");
        var error = await juliet.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("id") == "s1");
        AssertError(error, "not-allowed", "cancel");
        Assert.DoesNotContain(await DrainAsync(romeo), e => e.Name == "presence" && e.GetAttribute("type") == "subscribe");
        Assert.Null(await ItemAsync(juliet, "romeo@localhost"));

        var roster = Items(await GetRosterAsync(juliet));
        Assert.Equal(MaxItems, roster.Count);
        Assert.Equal("Renamed", roster.Single(i => i.GetAttribute("jid") == "contact0@example.org").GetAttribute("name"));

        // A removal makes room for one.
        Assert.Equal("result", (await RosterSetAsync(juliet, "<item jid='contact1@example.org' subscription='remove'/>")).GetAttribute("type"));
        Assert.Equal("result", (await RosterSetAsync(juliet, Item(MaxItems))).GetAttribute("type"));
        Assert.Equal((MaxItems, 0), await Server.Storage.Rosters.CountAsync("localhost", "juliet"));
    }

    [Fact]
    public async Task Past_the_pending_request_limit_a_new_request_bounces_to_its_sender_and_is_not_kept()
    {
        for (var i = 0; i < MaxPending; i++)
        {
            await Server.Storage.Rosters.SetPendingAsync("localhost", "romeo",
                new PendingSubscription($"p{i}@example.org", $"<presence from='p{i}@example.org' to='romeo@localhost' type='subscribe'/>", DateTimeOffset.UtcNow));
        }
        var nurse = await LoginAsync("nurse");
        await nurse.SendAsync("<presence to='romeo@localhost' type='subscribe' id='n1'/>");
        var error = await nurse.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("type") == "error");
        AssertError(error, "resource-constraint", "wait");
        Assert.Equal("romeo@localhost", error.GetAttribute("from"));
        Assert.Null(await Server.Storage.Rosters.GetPendingAsync("localhost", "romeo", "nurse@localhost"));
        Assert.Equal((0, MaxPending), await Server.Storage.Rosters.CountAsync("localhost", "romeo"));

        // A request from a contact already pending replaces it (no new entry), so it is still taken.
        var p0 = await LoginAsync("juliet");
        await DrainAsync(p0);
        await Server.Storage.Rosters.RemovePendingAsync("localhost", "romeo", "p0@example.org");
        await p0.SendAsync("<presence to='romeo@localhost' type='subscribe'/>");
        await DrainAsync(p0);
        Assert.NotNull(await Server.Storage.Rosters.GetPendingAsync("localhost", "romeo", "juliet@localhost"));
        Assert.Equal((0, MaxPending), await Server.Storage.Rosters.CountAsync("localhost", "romeo"));
    }
}

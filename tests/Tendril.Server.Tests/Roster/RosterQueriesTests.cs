using Tendril.Server.Features;
using Tendril.Protocol;
using Tendril.Server.Features.Roster;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Storage;

namespace Tendril.Server.Tests.Roster;

/// <summary>The roster questions offered to other features (pubsub access models).</summary>
public sealed class RosterQueriesTests : ImTestBase
{
    [Fact]
    public async Task Presence_subscription_and_group_membership_follow_the_owners_roster()
    {
        var rosters = Server.Storage.Rosters;
        await rosters.SetItemAsync("localhost", "juliet", new RosterItem("romeo@localhost", null, RosterSubscription.From, false, false, ["Lovers"]));
        await rosters.SetItemAsync("localhost", "juliet", new RosterItem("nurse@localhost", null, RosterSubscription.To, false, false, ["Household"]));
        var queries = new RosterQueries(Server.Storage);
        var juliet = Jid.Parse("juliet@localhost");

        Assert.True(await queries.HasPresenceSubscriptionAsync(juliet, Jid.Parse("romeo@localhost/garden")));
        Assert.False(await queries.HasPresenceSubscriptionAsync(juliet, Jid.Parse("nurse@localhost"))); // 'to' only: juliet sees the nurse, not the reverse
        Assert.False(await queries.HasPresenceSubscriptionAsync(juliet, Jid.Parse("tybalt@localhost")));
        Assert.True(await queries.HasPresenceSubscriptionAsync(juliet, Jid.Parse("juliet@localhost/other")));

        Assert.True(await queries.IsInRosterGroupAsync(juliet, Jid.Parse("nurse@localhost/kitchen"), ["Household", "Friends"]));
        Assert.False(await queries.IsInRosterGroupAsync(juliet, Jid.Parse("romeo@localhost"), ["Household"]));
        Assert.False(await queries.IsInRosterGroupAsync(juliet, Jid.Parse("tybalt@localhost"), ["Lovers"]));
        Assert.False(await queries.IsInRosterGroupAsync(Jid.Parse("localhost"), Jid.Parse("romeo@localhost"), ["Lovers"]));
    }
}

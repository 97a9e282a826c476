namespace Tendril.Server.Tests.PubSub;

/// <summary>The presence and roster access models (XEP-0060 §4.5) against real rosters (RFC 6121).</summary>
public sealed class RosterAccessTests : PubSubTestBase
{
    [Fact]
    public async Task Presence_access_model_admits_only_contacts_subscribed_to_the_owner()
    {
        var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo");
        var nurse = await LoginAsync("nurse");
        await CreateAsync(juliet, "diary", Field("pubsub#access_model", "presence"));

        await ErrorAsync(romeo, "set", $"<pubsub xmlns='{PS}'><subscribe node='diary' jid='{romeo.Jid}'/></pubsub>", "auth", "not-authorized", "presence-subscription-required");

        // Romeo asks for Juliet's presence and she approves: her roster now has him with subscription 'from'.
        await romeo.SendAsync("<presence to='juliet@localhost' type='subscribe'/>");
        await juliet.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("type") == "subscribe");
        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribed'/>");
        await romeo.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("type") == "subscribed");

        await SubscribeAsync(romeo, "diary");
        await ErrorAsync(nurse, "set", $"<pubsub xmlns='{PS}'><subscribe node='diary' jid='{nurse.Jid}'/></pubsub>", "auth", "not-authorized", "presence-subscription-required");
        await PublishAsync(juliet, "diary", "<entry xmlns='urn:test'>dear diary</entry>");
        var ev = await EventAsync(romeo);
        Assert.Equal("diary", ev.Element("items")!.GetAttribute("node"));
    }

    [Fact]
    public async Task Roster_access_model_admits_only_contacts_in_the_allowed_groups()
    {
        var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo");
        var nurse = await LoginAsync("nurse");
        await CreateAsync(juliet, "secrets", Field("pubsub#access_model", "roster") + Field("pubsub#roster_groups_allowed", "Lovers"));
        // RFC 6121 §2.3.3: one item per roster set.
        var r1 = await IqAsync(juliet, "set", "<query xmlns='jabber:iq:roster'><item jid='romeo@localhost'><group>Lovers</group></item></query>", to: "juliet@localhost");
        var r2 = await IqAsync(juliet, "set", "<query xmlns='jabber:iq:roster'><item jid='nurse@localhost'><group>Staff</group></item></query>", to: "juliet@localhost");
        Assert.Equal("result", r1.GetAttribute("type"));
        Assert.Equal("result", r2.GetAttribute("type"));

        await SubscribeAsync(romeo, "secrets");
        await ErrorAsync(nurse, "set", $"<pubsub xmlns='{PS}'><subscribe node='secrets' jid='{nurse.Jid}'/></pubsub>", "auth", "not-authorized", "not-in-roster-group");
    }
}

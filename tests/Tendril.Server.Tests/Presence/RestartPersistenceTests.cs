using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Presence;

/// <summary>A restart over the same data folder loses no roster, pending subscription request or offline message.</summary>
public sealed class RestartPersistenceTests : ImTestBase
{
    [Fact]
    public async Task Rosters_pending_requests_and_offline_messages_survive_a_restart()
    {
        await using (var juliet = await LoginAsync("juliet"))
        await using (var romeo = await LoginAsync("romeo"))
        {
            await MakeBothAsync(juliet, romeo);
            await RosterSetAsync(juliet, "<item jid='romeo@localhost' name='Romeo'><group>Verona</group></item>");
            await juliet.SendAsync("<presence to='nurse@localhost' type='subscribe'><status>remember me</status></presence>"); // nurse offline
            await DrainAsync(juliet);
            await juliet.DisposeAsync();
            await romeo.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("type") == "unavailable");
            await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='kept'><body>are you there?</body></message>");
            Assert.Empty(await DrainAsync(romeo));
        }

        var directory = Server.Directory;
        Server.KeepDirectory = true;
        await Server.DisposeAsync();
        await using var restarted = await TestServer.StartAsync(directory: directory);

        await using var juliet2 = await LoginAsync("juliet", server: restarted, presence: false);
        var roster = Items(await GetRosterAsync(juliet2));
        var romeoItem = Assert.Single(roster, i => i.GetAttribute("jid") == "romeo@localhost");
        AssertItem(romeoItem, "romeo@localhost", "both");
        Assert.Equal("Romeo", romeoItem.GetAttribute("name"));
        Assert.Equal("Verona", romeoItem.Element("group", Ns.Roster)!.Text);
        AssertItem(Assert.Single(roster, i => i.GetAttribute("jid") == "nurse@localhost"), "nurse@localhost", "none", ask: true);
        await juliet2.SendAsync("<presence/>");
        var message = Assert.Single(await DrainAsync(juliet2), e => e.Name == "message");
        Assert.Equal("kept", message.GetAttribute("id"));
        Assert.NotNull(message.Element("delay", Ns.Delay));

        await using var nurse = await LoginAsync("nurse", server: restarted, presence: false);
        await nurse.SendAsync("<presence/>");
        var request = Assert.Single(await DrainAsync(nurse), e => e.Name == "presence" && e.GetAttribute("type") == "subscribe");
        Assert.Equal("juliet@localhost", request.GetAttribute("from"));
        Assert.Equal("remember me", request.Element("status")!.Text);
    }
}

using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Csi;

/// <summary>XEP-0352: presence and chat states wait while the client is inactive; important stanzas flush them.</summary>
public sealed class ClientStateTests : ImTestBase
{
    private const string Csi = "urn:xmpp:csi:0";

    private static string Presence(string status) => $"<presence to='juliet@localhost/r'><status>{status}</status></presence>";

    private const string Composing = "<message type='chat' to='juliet@localhost/r'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>";

    [Fact]
    public async Task Feature_is_offered_after_auth()
    {
        var c = Server.Connect();
        var features = await c.AuthenticateAsync("juliet", "pw");
        Assert.NotNull(features.Element("csi", Csi));
    }

    [Fact]
    public async Task Buffered_stanzas_flush_before_the_important_one_with_only_the_latest_presence_per_sender()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false);
        var nurse = await LoginAsync("nurse", roster: false);
        await juliet.SendAsync($"<inactive xmlns='{Csi}'/>");
        await DrainAsync(juliet);

        await romeo.SendAsync(Presence("one"));
        await DrainAsync(romeo);
        await nurse.SendAsync(Presence("nurse"));
        await DrainAsync(nurse);
        await romeo.SendAsync(Composing);
        await romeo.SendAsync(Presence("two"));
        await DrainAsync(romeo);
        var stream = Server.Server.Sessions.Find(Protocol.Jid.Parse("juliet@localhost/r"))!.Stream;
        Assert.True(stream.IsHoldingBack);
        Assert.Equal(3, stream.HeldBack);

        await romeo.SendAsync("<message type='chat' to='juliet@localhost/r'><body>hi</body></message>");
        var got = new List<XmlElement>();
        for (var i = 0; i < 4; i++) got.Add(await juliet.NextAsync());
        Assert.Equal("nurse", got[0].Element("status")?.Text);
        Assert.Equal("message", got[1].Name);
        Assert.Null(got[1].Element("body"));
        Assert.Equal("two", got[2].Element("status")?.Text);
        Assert.Equal("hi", got[3].Element("body")?.Text);
        Assert.Equal(0, stream.HeldBack);
    }

    [Fact]
    public async Task Active_flushes_the_buffer()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false);
        await juliet.SendAsync($"<inactive xmlns='{Csi}'/>");
        await DrainAsync(juliet);
        await romeo.SendAsync(Presence("away"));
        await DrainAsync(romeo);
        var stream = Server.Server.Sessions.Find(Protocol.Jid.Parse("juliet@localhost/r"))!.Stream;
        Assert.Equal(1, stream.HeldBack);
        await juliet.SendAsync($"<active xmlns='{Csi}'/>");
        var presence = await juliet.NextAsync();
        Assert.Equal("away", presence.Element("status")?.Text);
        Assert.False(stream.IsHoldingBack);
    }

    [Fact]
    public async Task Subscription_requests_are_not_held_back()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false);
        await juliet.SendAsync($"<inactive xmlns='{Csi}'/>");
        await DrainAsync(juliet);
        await romeo.SendAsync("<presence type='subscribe' to='juliet@localhost'/>");
        var request = await juliet.WaitForAsync(e => e.Name == "presence");
        Assert.Equal("subscribe", request.GetAttribute("type"));
    }
}

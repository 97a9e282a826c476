using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>Group chat (XEP-0045) against the real process with python3-slixmpp's xep_0045 plugin.</summary>
public sealed class SlixmppMucTests
{
    private const string Password = "muc-secret";

    [Fact]
    public async Task Slixmpp_creates_configures_talks_kicks_bans_and_invites()
    {
        await using var server = await TendrilProcess.StartAsync([("juliet@localhost", Password), ("romeo@localhost", Password), ("nurse@localhost", Password)]);
        using var result = await SlixmppScript.RunAsync(server, "slixmpp_muc.py", "capulet@conference.localhost", "juliet@localhost", "romeo@localhost", "nurse@localhost", Password);
        var r = result.RootElement;
        int[] Codes(string name) => [.. r.GetProperty(name).EnumerateArray().Select(e => e.GetInt32())];
        string[] Strings(string name) => [.. r.GetProperty(name).EnumerateArray().Select(e => e.GetString()!)];

        Assert.Equal([110, 201], Codes("created_codes"));
        Assert.Equal("Interop", r.GetProperty("name").GetString());
        Assert.Equal(["muc_nonanonymous", "muc_open", "muc_persistent", "muc_public", "muc_unmoderated", "muc_unsecured"], Strings("features"));
        Assert.Equal(["h2", "h3"], Strings("history"));
        Assert.Equal(["Juliet", "Romeo"], Strings("occupants_seen_by_b"));
        Assert.Equal("capulet@conference.localhost/Romeo", r.GetProperty("a_got").GetProperty("from").GetString());
        Assert.True(r.GetProperty("a_got").GetProperty("stanza_id").GetBoolean());
        Assert.Contains(307, Codes("kick_codes"));
        Assert.Contains(301, Codes("ban_codes"));
        Assert.Equal("forbidden", r.GetProperty("rejoin").GetString());
        Assert.Equal(["romeo@localhost"], Strings("outcasts"));
        Assert.Equal("capulet@conference.localhost", r.GetProperty("invite").GetProperty("room").GetString());
        Assert.Equal("juliet@localhost", r.GetProperty("invite").GetProperty("from").GetString());
        Assert.Equal("capulet@conference.localhost/Nurse", r.GetProperty("c_joined").GetString());
    }
}

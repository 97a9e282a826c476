using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>
/// RFC 6121 against the real process with python3-slixmpp: the subscription handshake both ways with roster items
/// and presence on each side, then a message to the offline contact delivered at its next login with a delay stamp.
/// </summary>
public sealed class SlixmppImTests
{
    [Fact]
    public async Task Subscription_handshake_presence_and_offline_message_with_slixmpp()
    {
        await using var server = await TendrilProcess.StartAsync([("alice@localhost", "alice-secret"), ("bob@localhost", "bob-secret")]);
        using var result = await SlixmppScript.RunAsync(server, "slixmpp_im.py", "alice@localhost", "alice-secret", "bob@localhost", "bob-secret");
        var a = result.RootElement.GetProperty("a");
        var b = result.RootElement.GetProperty("b");
        var b2 = result.RootElement.GetProperty("b2");

        // Each side received the other's request and approval, from the bare JID.
        Assert.Contains(Events(b), e => e.Kind == "subscribe" && e.From == "alice@localhost");
        Assert.Contains(Events(a), e => e.Kind == "subscribed" && e.From == "bob@localhost");
        Assert.Contains(Events(a), e => e.Kind == "subscribe" && e.From == "bob@localhost");
        Assert.Contains(Events(b), e => e.Kind == "subscribed" && e.From == "alice@localhost");

        // Both see each other available, with the status each client sent.
        Assert.Equal(b.GetProperty("jid").GetString(), a.GetProperty("saw_b").GetProperty("from").GetString());
        Assert.Equal("online as bob", a.GetProperty("saw_b").GetProperty("status").GetString());
        Assert.Equal(a.GetProperty("jid").GetString(), b.GetProperty("saw_a").GetProperty("from").GetString());
        Assert.Equal("online as alice", b.GetProperty("saw_a").GetProperty("status").GetString());

        // Rosters as pushed by the server: both ways, A's item keeps its name and group.
        Assert.Equal("both", a.GetProperty("roster").GetProperty("subscription").GetString());
        Assert.Equal("B", a.GetProperty("roster").GetProperty("name").GetString());
        Assert.Equal("Friends", a.GetProperty("roster").GetProperty("groups")[0].GetString());
        Assert.False(a.GetProperty("roster").GetProperty("pending_out").GetBoolean());
        Assert.Equal("both", b.GetProperty("roster").GetProperty("subscription").GetString());

        // A's unavailable-time message reaches B's next session with a delay stamp from the server.
        var offline = b2.GetProperty("offline");
        Assert.Equal("while you were away", offline.GetProperty("body").GetString());
        Assert.Equal(a.GetProperty("jid").GetString(), offline.GetProperty("from").GetString());
        Assert.Equal("localhost", offline.GetProperty("delay_from").GetString());
        var stamp = DateTimeOffset.Parse(offline.GetProperty("stamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(stamp <= DateTimeOffset.UtcNow && stamp > DateTimeOffset.UtcNow.AddMinutes(-5), $"stamp {stamp}");
    }

    private static List<(string Kind, string? From)> Events(JsonElement client)
    {
        var list = new List<(string, string?)>();
        foreach (var e in client.GetProperty("events").EnumerateArray())
        {
            list.Add((e.GetProperty("kind").GetString()!, e.TryGetProperty("from", out var f) ? f.GetString() : null));
        }
        return list;
    }
}

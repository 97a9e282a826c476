using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.LastActivity;

/// <summary>XEP-0202 entity time of the server and XEP-0012 last activity of the server and of accounts.</summary>
public sealed class TimeAndLastActivityTests : ImTestBase
{
    private static string Last(TestClient c, XmlElement result)
    {
        Assert.Equal("result", result.GetAttribute("type"));
        return result.Element("query", "jabber:iq:last")!.GetAttribute("seconds")!;
    }

    [Fact]
    public async Task Server_answers_entity_time_in_utc()
    {
        await using var juliet = await LoginAsync("juliet");
        var result = await IqAsync(juliet, "get", "<time xmlns='urn:xmpp:time'/>", "localhost");
        Assert.Equal("result", result.GetAttribute("type"));
        var time = result.Element("time", "urn:xmpp:time")!;
        Assert.Matches(@"^[+-]\d\d:\d\d$", time.Element("tzo", "urn:xmpp:time")!.Text);
        var utc = DateTimeOffset.Parse(time.Element("utc", "urn:xmpp:time")!.Text, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Server.Time!.GetUtcNow(), utc);
        AssertError(await IqAsync(juliet, "set", "<time xmlns='urn:xmpp:time'/>", "localhost"), "bad-request", "modify");
        // Entity time of an account is its clients' business, not the server's.
        AssertError(await IqAsync(juliet, "get", "<time xmlns='urn:xmpp:time'/>", "romeo@localhost"), "service-unavailable", "cancel");
    }

    [Fact]
    public async Task Server_last_activity_is_its_uptime()
    {
        await using var juliet = await LoginAsync("juliet");
        Server.Time!.Advance(TimeSpan.FromSeconds(42));
        Assert.Equal("42", Last(juliet, await IqAsync(juliet, "get", "<query xmlns='jabber:iq:last'/>", "localhost")));
        AssertError(await IqAsync(juliet, "set", "<query xmlns='jabber:iq:last'/>", "localhost"), "bad-request", "modify");
    }

    [Fact]
    public async Task Account_last_activity_is_seconds_since_logout_for_subscribers_only()
    {
        await using var juliet = await LoginAsync("juliet");
        var romeo = await LoginAsync("romeo");
        await MakeBothAsync(juliet, romeo);
        await using var nurse = await LoginAsync("nurse");

        // Online: 0 seconds.
        Assert.Equal("0", Last(juliet, await IqAsync(juliet, "get", "<query xmlns='jabber:iq:last'/>", "romeo@localhost")));

        await romeo.SendAsync("<presence type='unavailable'><status>Gone to Mantua</status></presence>");
        await DrainAsync(romeo);
        await romeo.SendAsync("</stream:stream>");
        await juliet.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("type") == "unavailable" && e.GetAttribute("from") == "romeo@localhost/r");
        await romeo.DisposeAsync();
        await WaitUntilAsync(async () => await Server.Storage.AccountData.GetAsync("localhost", "romeo", "last", "") is not null);
        Server.Time!.Advance(TimeSpan.FromSeconds(903));

        var result = await IqAsync(juliet, "get", "<query xmlns='jabber:iq:last'/>", "romeo@localhost");
        Assert.Equal("903", Last(juliet, result));
        Assert.Equal("Gone to Mantua", result.Element("query", "jabber:iq:last")!.Text);

        // The nurse is not subscribed to romeo's presence.
        AssertError(await IqAsync(nurse, "get", "<query xmlns='jabber:iq:last'/>", "romeo@localhost"), "forbidden", "auth");
        // Nobody there at all.
        AssertError(await IqAsync(nurse, "get", "<query xmlns='jabber:iq:last'/>", "nobody@localhost"), "service-unavailable", "cancel");
        AssertError(await IqAsync(juliet, "set", "<query xmlns='jabber:iq:last'/>", "romeo@localhost"), "bad-request", "modify");
    }

    [Fact]
    public async Task Unavailable_presence_on_a_stream_that_stays_open_is_the_last_activity()
    {
        await using var juliet = await LoginAsync("juliet");
        Assert.Equal("0", Last(juliet, await IqAsync(juliet, "get", "<query xmlns='jabber:iq:last'/>")));
        await juliet.SendAsync("<presence type='unavailable'><status>Goodbye</status></presence>");
        await DrainAsync(juliet); // handled before the clock moves
        Server.Time!.Advance(TimeSpan.FromSeconds(120));

        // Its own account, asked on the same open stream: seconds since the unavailable presence, with its status.
        var result = await IqAsync(juliet, "get", "<query xmlns='jabber:iq:last'/>");
        Assert.Equal("120", Last(juliet, result));
        Assert.Equal("Goodbye", result.Element("query", "jabber:iq:last")!.Text);

        // Closing the stream later keeps that moment and status.
        Server.Time.Advance(TimeSpan.FromSeconds(30));
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Server.Server.Features.SessionClosed += session =>
        {
            if (session.JidString == juliet.Jid) closed.TrySetResult(); // after the feature's own handler (registered first)
            return ValueTask.CompletedTask;
        };
        await juliet.SendAsync("</stream:stream>");
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await using var again = await LoginAsync("juliet", "other", presence: false);
        var after = await IqAsync(again, "get", "<query xmlns='jabber:iq:last'/>");
        Assert.Equal("150", Last(again, after));
        Assert.Equal("Goodbye", after.Element("query", "jabber:iq:last")!.Text);
    }

    [Fact]
    public async Task Last_logout_survives_a_restart_and_an_account_that_never_left_has_none()
    {
        var directory = Server.Directory;
        await using (var romeo = await LoginAsync("romeo"))
        {
            var never = await IqAsync(romeo, "get", "<query xmlns='jabber:iq:last'/>", "nurse@localhost");
            AssertError(never, "forbidden", "auth");
            var self = await IqAsync(romeo, "get", "<query xmlns='jabber:iq:last'/>");
            Assert.Equal("0", Last(romeo, self)); // one's own account, online
        }
        await WaitUntilAsync(async () => await Server.Storage.AccountData.GetAsync("localhost", "romeo", "last", "") is not null);
        Server.KeepDirectory = true;
        await Server.DisposeAsync();

        await using var restarted = await TestServer.StartAsync(directory: directory);
        restarted.Time!.Advance(TimeSpan.FromHours(1));
        await using var juliet = await LoginAsync("juliet", server: restarted);
        await restarted.Storage.Rosters.SetItemAsync("localhost", "romeo", new Storage.RosterItem("juliet@localhost", null, Storage.RosterSubscription.From, false, false, []));
        var result = await IqAsync(juliet, "get", "<query xmlns='jabber:iq:last'/>", "romeo@localhost");
        Assert.Equal("result", result.GetAttribute("type"));
        Assert.True(long.Parse(Last(juliet, result), System.Globalization.CultureInfo.InvariantCulture) >= 3600);
        await restarted.Storage.Rosters.SetItemAsync("localhost", "nurse", new Storage.RosterItem("juliet@localhost", null, Storage.RosterSubscription.Both, false, false, []));
        AssertError(await IqAsync(juliet, "get", "<query xmlns='jabber:iq:last'/>", "nurse@localhost"), "service-unavailable", "cancel"); // never logged out
    }

    [Fact]
    public async Task Disco_advertises_time_and_last()
    {
        await using var juliet = await LoginAsync("juliet");
        var vars = await DiscoFeaturesAsync(juliet);
        Assert.Contains("urn:xmpp:time", vars);
        Assert.Contains("jabber:iq:last", vars);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await condition()) return;
            await Task.Delay(25);
        }
        Assert.Fail("Timed out.");
    }
}

using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.StreamManagement;

/// <summary>XEP-0198: enabling, acks both ways, the ack-count check, resumption, and hibernation timeout.</summary>
public sealed class StreamManagementTests : ImTestBase
{
    private const string Sm = "urn:xmpp:sm:3";

    private static async Task<string?> EnableAsync(TestClient c, bool resume = true)
    {
        await c.SendAsync($"<enable xmlns='{Sm}'{(resume ? " resume='true'" : "")}/>");
        var enabled = await c.WaitForAsync(e => e.Namespace == Sm && e.Name is "enabled" or "failed");
        Assert.Equal("enabled", enabled.Name);
        return enabled.GetAttribute("id");
    }

    private static Task<XmlElement> MessageAsync(TestClient c, string body) =>
        c.WaitForAsync(e => e.Name == "message" && e.Element("body")?.Text == body);

    private static string Message(string to, string body) => $"<message type='chat' to='{to}'><body>{body}</body></message>";

    [Fact]
    public async Task Feature_is_offered_after_auth_and_enable_after_bind_succeeds()
    {
        var c = Server.Connect();
        var features = await c.AuthenticateAsync("juliet", "pw");
        Assert.NotNull(features.Element("sm", Sm));
        await c.SendAsync("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
        await c.ExpectAsync("iq");
        await c.SendAsync($"<enable xmlns='{Sm}' resume='true'/>");
        var enabled = await c.ExpectAsync("enabled", Sm);
        Assert.Equal("true", enabled.GetAttribute("resume"));
        Assert.False(string.IsNullOrEmpty(enabled.GetAttribute("id")));
        Assert.Equal("300", enabled.GetAttribute("max"));
    }

    [Fact]
    public async Task Enable_before_bind_fails_with_unexpected_request()
    {
        var c = Server.Connect();
        await c.AuthenticateAsync("juliet", "pw");
        await c.SendAsync($"<enable xmlns='{Sm}'/>");
        var failed = await c.ExpectAsync("failed", Sm);
        Assert.NotNull(failed.Element("unexpected-request", Ns.Stanzas));
    }

    [Fact]
    public async Task Server_counts_handled_stanzas_and_answers_r()
    {
        var c = await LoginAsync("juliet", roster: false, presence: false);
        await EnableAsync(c, resume: false);
        await c.SendAsync("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        await c.SendAsync("<presence/>");
        await c.SendAsync("<message to='romeo@localhost'><body>x</body></message>");
        await c.SendAsync($"<r xmlns='{Sm}'/>");
        var a = await c.WaitForAsync(e => e.Name == "a" && e.Namespace == Sm);
        Assert.Equal("3", a.GetAttribute("h"));
    }

    [Fact]
    public async Task Server_requests_acks_for_what_it_sent_and_accepts_them()
    {
        var juliet = await LoginAsync("juliet", presence: false, roster: false);
        var romeo = await LoginAsync("romeo", presence: false, roster: false);
        await EnableAsync(juliet, resume: false);
        await romeo.SendAsync(Message("juliet@localhost/r", "one"));
        await MessageAsync(juliet, "one");
        await juliet.WaitForAsync(e => e.Name == "r" && e.Namespace == Sm);
        await juliet.SendAsync($"<a xmlns='{Sm}' h='1'/>");
        // The ack was handled before the ping; its answer is the second stanza sent and gets its own request.
        Assert.DoesNotContain(await DrainAsync(juliet), e => e.Name == "r");
        await juliet.WaitForAsync(e => e.Name == "r" && e.Namespace == Sm);
        await juliet.SendAsync($"<a xmlns='{Sm}' h='2'/>");
        await romeo.SendAsync(Message("juliet@localhost/r", "two"));
        await MessageAsync(juliet, "two");
        await juliet.WaitForAsync(e => e.Name == "r" && e.Namespace == Sm);
        await juliet.SendAsync($"<a xmlns='{Sm}' h='3'/>");
        var drained = await DrainAsync(juliet);
        Assert.DoesNotContain(drained, e => e.Name == "error");
    }

    [Fact]
    public async Task Acking_more_than_was_sent_is_a_stream_error()
    {
        var c = await LoginAsync("juliet", roster: false, presence: false);
        await EnableAsync(c, resume: false);
        await c.SendAsync($"<a xmlns='{Sm}' h='5'/>");
        var error = await c.ExpectStreamErrorAsync("undefined-condition");
        var detail = error.Element("handled-count-too-high", Sm);
        Assert.NotNull(detail);
        Assert.Equal("5", detail.GetAttribute("h"));
        Assert.Equal("0", detail.GetAttribute("send-count"));
    }

    [Fact]
    public async Task Resume_after_a_dropped_connection_redelivers_unacked_and_queued_messages()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false, presence: false);
        var id = await EnableAsync(juliet);
        Assert.NotNull(id);
        await romeo.SendAsync(Message("juliet@localhost/r", "acked"));
        await MessageAsync(juliet, "acked");
        await juliet.SendAsync($"<a xmlns='{Sm}' h='1'/>");
        await romeo.SendAsync(Message("juliet@localhost/r", "unacked"));
        await MessageAsync(juliet, "unacked");
        await juliet.SendAsync($"<message to='romeo@localhost/r'><body>from juliet</body></message>");
        await MessageAsync(romeo, "from juliet");
        await juliet.DisposeAsync(); // the connection drops without </stream:stream>

        await WaitUntilAsync(() => Server.Server.StreamManagement.HibernatingCount == 1);
        await romeo.SendAsync(Message("juliet@localhost/r", "while away"));
        await DrainAsync(romeo);
        Assert.Single(Server.Server.Sessions.FindAll(Jid.Parse("juliet@localhost")));

        var again = Server.Connect();
        await again.AuthenticateAsync("juliet", "pw");
        await again.SendAsync($"<resume xmlns='{Sm}' previd='{id}' h='1'/>");
        var resumed = await again.ExpectAsync("resumed", Sm);
        Assert.Equal(id, resumed.GetAttribute("previd"));
        Assert.Equal("1", resumed.GetAttribute("h")); // juliet's one message was handled
        var first = await again.NextAsync();
        Assert.Equal("unacked", first.Element("body")?.Text);
        var second = await again.NextAsync();
        Assert.Equal("while away", second.Element("body")?.Text);

        // The session carries on under the same full JID.
        await romeo.SendAsync(Message("juliet@localhost/r", "after"));
        await MessageAsync(again, "after");
        await again.SendAsync($"<r xmlns='{Sm}'/>");
        var a = await again.WaitForAsync(e => e.Name == "a" && e.Namespace == Sm);
        Assert.Equal("1", a.GetAttribute("h"));
        await again.SendAsync($"<a xmlns='{Sm}' h='4'/>");
        var drained = await DrainAsync(again);
        Assert.DoesNotContain(drained, e => e.Name == "error");
    }

    [Fact]
    public async Task Resume_with_an_unknown_id_fails()
    {
        var c = Server.Connect();
        await c.AuthenticateAsync("juliet", "pw");
        await c.SendAsync($"<resume xmlns='{Sm}' previd='nope' h='0'/>");
        var failed = await c.ExpectAsync("failed", Sm);
        Assert.NotNull(failed.Element("item-not-found", Ns.Stanzas));
        // The stream can still bind normally.
        await c.SendAsync("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
        Assert.Equal("result", (await c.ExpectAsync("iq")).GetAttribute("type"));
    }

    [Fact]
    public async Task Another_account_cannot_resume_the_session()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var id = await EnableAsync(juliet);
        await juliet.DisposeAsync();
        await WaitUntilAsync(() => Server.Server.StreamManagement.HibernatingCount == 1);
        var romeo = Server.Connect();
        await romeo.AuthenticateAsync("romeo", "pw");
        await romeo.SendAsync($"<resume xmlns='{Sm}' previd='{id}' h='0'/>");
        var failed = await romeo.ExpectAsync("failed", Sm);
        Assert.NotNull(failed.Element("item-not-found", Ns.Stanzas));
    }

    [Fact]
    public async Task Resume_takes_over_a_connection_the_server_still_thinks_alive()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false, presence: false);
        var id = await EnableAsync(juliet);
        await romeo.SendAsync(Message("juliet@localhost/r", "m1"));
        await MessageAsync(juliet, "m1");
        var again = Server.Connect();
        await again.AuthenticateAsync("juliet", "pw");
        await again.SendAsync($"<resume xmlns='{Sm}' previd='{id}' h='0'/>");
        await again.ExpectAsync("resumed", Sm);
        await MessageAsync(again, "m1");
    }

    [Fact]
    public async Task Hibernation_timeout_stores_unacked_messages_offline()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false, presence: false);
        await EnableAsync(juliet);
        await romeo.SendAsync(Message("juliet@localhost/r", "unacked"));
        await MessageAsync(juliet, "unacked");
        await juliet.DisposeAsync();
        await WaitUntilAsync(() => Server.Server.StreamManagement.HibernatingCount == 1);
        await romeo.SendAsync(Message("juliet@localhost/r", "while away"));
        await DrainAsync(romeo);

        Server.AdvanceAndTick(TimeSpan.FromSeconds(299));
        Assert.Equal(1, Server.Server.StreamManagement.HibernatingCount);
        Server.AdvanceAndTick(TimeSpan.FromSeconds(2));
        await WaitUntilAsync(() => Server.Server.Sessions.FindAll(Jid.Parse("juliet@localhost")).Length == 0);
        Assert.Equal(0, Server.Server.StreamManagement.HibernatingCount);
        Assert.DoesNotContain(await DrainAsync(romeo), e => e.Name == "message");

        var back = await LoginAsync("juliet", resource: "new", roster: false);
        var m1 = await MessageAsync(back, "unacked");
        Assert.NotNull(m1.Element("delay", Ns.Delay));
        await MessageAsync(back, "while away");
    }

    [Fact]
    public async Task Binding_the_same_resource_replaces_a_hibernating_session()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false, presence: false);
        var id = await EnableAsync(juliet);
        await romeo.SendAsync(Message("juliet@localhost/r", "unacked"));
        await MessageAsync(juliet, "unacked");
        await juliet.DisposeAsync();
        await WaitUntilAsync(() => Server.Server.StreamManagement.HibernatingCount == 1);

        var fresh = await LoginAsync("juliet", roster: false);
        await MessageAsync(fresh, "unacked"); // stored offline on replacement, delivered at initial presence
        Assert.Equal(0, Server.Server.StreamManagement.HibernatingCount);
        var c = Server.Connect();
        await c.AuthenticateAsync("juliet", "pw");
        await c.SendAsync($"<resume xmlns='{Sm}' previd='{id}' h='0'/>");
        Assert.NotNull((await c.ExpectAsync("failed", Sm)).Element("item-not-found", Ns.Stanzas));
    }

    [Fact]
    public async Task A_clean_close_does_not_hibernate_and_unacked_messages_go_offline()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false, presence: false);
        await EnableAsync(juliet);
        await romeo.SendAsync(Message("juliet@localhost/r", "unacked"));
        await MessageAsync(juliet, "unacked");
        await juliet.SendAsync("</stream:stream>");
        await WaitUntilAsync(() => Server.Server.Sessions.FindAll(Jid.Parse("juliet@localhost")).Length == 0);
        Assert.Equal(0, Server.Server.StreamManagement.HibernatingCount);
        // The unacked message is stored offline as the closed session is cleaned up, just after it leaves the
        // session table: wait for the store, or a quick re-login could run its offline delivery first.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await Server.Storage.Offline.CountAsync("localhost", "juliet") == 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The unacked message was not stored offline.");
            await Task.Delay(10);
        }
        var back = await LoginAsync("juliet", roster: false);
        await MessageAsync(back, "unacked");
    }
}

/// <summary>A shutdown does not lose what a hibernating session was never acknowledged.</summary>
public sealed class StreamManagementShutdownTests : ImTestBase
{
    [Fact]
    public async Task Shutdown_stores_a_hibernating_sessions_unacked_messages_offline()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false, presence: false);
        await juliet.SendAsync("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
        await juliet.WaitForAsync(e => e.Name == "enabled");
        await romeo.SendAsync("<message type='chat' to='juliet@localhost/r'><body>unacked</body></message>");
        await juliet.WaitForAsync(e => e.Element("body")?.Text == "unacked");
        await juliet.DisposeAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Server.Server.StreamManagement.HibernatingCount == 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(1, Server.Server.StreamManagement.HibernatingCount);

        var directory = Server.Directory;
        Server.KeepDirectory = true;
        await Server.DisposeAsync();
        await using var restarted = await TestServer.StartAsync(directory: directory);
        await using var back = await LoginAsync("juliet", server: restarted, roster: false);
        var message = await back.WaitForAsync(e => e.Name == "message");
        Assert.Equal("unacked", message.Element("body")?.Text);
    }
}

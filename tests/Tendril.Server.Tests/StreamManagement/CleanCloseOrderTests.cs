using Tendril.Protocol;
using Tendril.Server.Features;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.StreamManagement;

/// <summary>
/// XEP-0198 §5 with a session that ends for good (a clean &lt;/stream:stream&gt;, with or without resumption): its
/// unacknowledged messages are stored offline while the session is still bound, so a message routed to it at that very
/// moment, and one sent to the account after it is gone, are stored after them — the next login gets them in order.
/// </summary>
public sealed class CleanCloseOrderTests
{
    /// <summary>
    /// The named point: the first unacknowledged message ("one") has just been stored offline. Records whether the session
    /// was still bound then, and hands it a message ("three") the way the router does.
    /// </summary>
    private sealed class InterleaveWhenStored : IServerFeature
    {
        public TaskCompletionSource<bool> StillBound { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Register(FeatureRegistry registry)
        {
            var server = registry.Server;
            registry.MessageHeld += (message, to) =>
            {
                if (message.Element("body")?.Text != "one") return;
                var session = server.Sessions.Find(Jid.Parse("juliet@localhost/r"));
                StillBound.TrySetResult(session is not null);
                if (session is null) return;
                var three = new XmlElement("message", Ns.Client).SetAttribute("type", "chat").SetAttribute("from", "romeo@localhost/r").SetAttribute("to", "juliet@localhost/r");
                three.AddElement("body").Add("three");
                Assert.True(session.TryDeliver(three)); // kept by the closing session, not bounced
            };
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Unacked_messages_are_stored_before_the_session_unbinds_and_keep_their_order(bool resume)
    {
        var hook = new InterleaveWhenStored();
        await using var server = await TestServer.StartAsync(extraFeatures: [hook]);
        await server.AddUserAsync("juliet", "pw");
        await server.AddUserAsync("romeo", "pw");
        await using var juliet = server.Connect();
        await juliet.LoginAsync("juliet", "pw", "r");
        await juliet.SendAsync($"<enable xmlns='urn:xmpp:sm:3'{(resume ? " resume='true'" : "")}/>");
        await juliet.WaitForAsync(e => e.Name == "enabled");
        await using var romeo = server.Connect();
        await romeo.LoginAsync("romeo", "pw", "r", presence: false);

        await romeo.SendAsync("<message type='chat' to='juliet@localhost/r'><body>one</body></message>");
        await romeo.SendAsync("<message type='chat' to='juliet@localhost/r'><body>two</body></message>");
        await juliet.WaitForAsync(e => e.Element("body")?.Text == "two"); // both received, neither acknowledged
        await juliet.SendAsync("</stream:stream>");

        Assert.True(await hook.StillBound.Task.WaitAsync(TimeSpan.FromSeconds(30)), "The unacked message was stored after the session unbound.");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (server.Server.Sessions.FindAll(Jid.Parse("juliet@localhost")).Length != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The session did not end.");
            await Task.Delay(10);
        }
        Assert.Equal(0, server.Server.StreamManagement.HibernatingCount);
        await romeo.SendAsync("<message type='chat' to='juliet@localhost'><body>four</body></message>");
        while (await server.Storage.Offline.CountAsync("localhost", "juliet") < 4)
        {
            Assert.True(DateTime.UtcNow < deadline, "Not every message was stored offline.");
            await Task.Delay(10);
        }

        await using var back = server.Connect();
        await back.LoginAsync("juliet", "pw", "back");
        var bodies = new List<string>();
        while (bodies.Count < 4) bodies.Add((await back.WaitForAsync(e => e.Name == "message" && e.Element("body") is not null)).Element("body")!.Text);
        Assert.Equal(["one", "two", "three", "four"], bodies);
    }
}

using Tendril.Client;
using Tendril.Protocol.Errors;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Operations;

/// <summary>SIGTERM: stop accepting, deliver what was accepted, system-shutdown to every stream, exit 0.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task Sigterm_flushes_accepted_messages_then_sends_system_shutdown_and_exits_cleanly()
    {
        await using var server = await TendrilProcess.StartAsync([("juliet@localhost", "pw-juliet"), ("romeo@localhost", "pw-romeo")]);
        await using var juliet = await server.ConnectAsync("juliet@localhost", "pw-juliet", "a");
        await using var romeo = await server.ConnectAsync("romeo@localhost", "pw-romeo", "b");
        var received = 0;
        romeo.StanzaReceived += (_, s) => { if (s.Name == "message") Interlocked.Increment(ref received); };

        const int count = 500;
        for (var i = 0; i < count; i++) await juliet.SendMessageAsync(romeo.Jid, "message " + i);
        // A server round trip after the messages: every one of them has been routed when the answer comes.
        await juliet.SendIqAsync(new Tendril.Xml.XmlElement("iq", Tendril.Protocol.Ns.Client).SetAttribute("type", "get")
            .SetAttribute("to", "localhost").Add(new Tendril.Xml.XmlElement("ping", Tendril.Protocol.Ns.Ping)));

        Assert.Equal(0, await server.StopAsync());
        var error = await Assert.ThrowsAsync<XmppStreamException>(() => romeo.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(StreamErrorCondition.SystemShutdown, error.Condition);
        Assert.Equal(count, Volatile.Read(ref received));
        var julietError = await Assert.ThrowsAsync<XmppStreamException>(() => juliet.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(StreamErrorCondition.SystemShutdown, julietError.Condition);
        Assert.Contains("system-shutdown", server.Log, StringComparison.Ordinal);
    }
}

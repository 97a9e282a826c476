using System.Diagnostics;
using Tendril.Client;
using Tendril.Protocol;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Web;

/// <summary>
/// Interop over WebSocket: the npm client @xmpp/client (its RFC 7395 transport, Node's WebSocket) logs in and chats
/// with a TCP client. The package is installed by ./test.sh in tests/Tendril.Tests/Browser.
/// </summary>
public sealed class XmppJsInteropTests
{
    private static string BrowserDirectory => Tendril.Tests.Support.RepositoryPaths.Of("tests", "Tendril.Tests", "Browser");

    [Fact]
    public async Task Xmppjs_client_over_websocket_chats_with_a_tcp_client()
    {
        var dir = BrowserDirectory;
        Assert.True(Directory.Exists(Path.Combine(dir, "node_modules", "@xmpp", "client")), "@xmpp/client is required (./test.sh runs npm ci in tests/Tendril.Tests/Browser).");
        await using var server = await WebSocketTests.StartAsync("juliet", "romeo");

        // Node 20 has WebSocket behind a flag; newer versions have it always and accept the flag.
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir };
        foreach (var a in new[] { "--experimental-websocket", Path.Combine(dir, "xmppjs_websocket.mjs"), WebSocketTests.Url(server).ToString(), "juliet", "s3cret-pw" }) psi.ArgumentList.Add(a);
        using var node = Process.Start(psi)!;
        var stderr = node.StandardError.ReadToEndAsync();
        var lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
        node.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Writer.TryWrite(e.Data); };
        node.BeginOutputReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            var online = await lines.Reader.ReadAsync(cts.Token);
            if (!online.StartsWith("ONLINE juliet@localhost/", StringComparison.Ordinal)) Assert.Fail($"{online}\n{await stderr}\n{server.Log}");
            var julietJid = Jid.Parse(online["ONLINE ".Length..]);

            await using var romeo = new XmppClient(new XmppClientOptions
            {
                Jid = Jid.Parse("romeo@localhost"), Password = "s3cret-pw", Host = "127.0.0.1", Port = server.C2sPort, AcceptAnyCertificate = true,
            });
            await romeo.ConnectAsync(cts.Token);
            await romeo.SendMessageAsync(julietJid, "hello from tcp", cancellationToken: cts.Token);
            var reply = await romeo.WaitForAsync(m => m.Name == "message" && m.Element("body", Ns.Client) is not null, TimeSpan.FromSeconds(30), cts.Token);
            Assert.Equal("pong: hello from tcp", reply.Element("body", Ns.Client)!.Text);
            Assert.Equal(julietJid.ToString(), reply.GetAttribute("from"));
            Assert.Equal("GOT hello from tcp", await lines.Reader.ReadAsync(cts.Token));
            await node.WaitForExitAsync(cts.Token);
            if (node.ExitCode != 0) Assert.Fail(await stderr);
        }
        catch (OperationCanceledException)
        {
            node.Kill(entireProcessTree: true);
            Assert.Fail($"@xmpp/client timed out:\n{await stderr}\n--- server log ---\n{server.Log}");
        }
    }

    /// <summary>Group chat (XEP-0045): @xmpp/client over WebSocket enters a room a TCP client created and talks in it.</summary>
    [Fact]
    public async Task Xmppjs_client_enters_a_room_and_talks_in_it()
    {
        var dir = BrowserDirectory;
        Assert.True(Directory.Exists(Path.Combine(dir, "node_modules", "@xmpp", "client")), "@xmpp/client is required (./test.sh runs npm ci in tests/Tendril.Tests/Browser).");
        await using var server = await WebSocketTests.StartAsync("juliet", "romeo");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var wait = TimeSpan.FromSeconds(30);
        const string room = "hall@conference.localhost";

        // romeo (TCP) creates the room and accepts the instant configuration.
        await using var romeo = new XmppClient(new XmppClientOptions
        {
            Jid = Jid.Parse("romeo@localhost"), Password = "s3cret-pw", Host = "127.0.0.1", Port = server.C2sPort, AcceptAnyCertificate = true,
        });
        await romeo.ConnectAsync(cts.Token);
        var enter = new Tendril.Xml.XmlElement("presence", Ns.Client).SetAttribute("to", room + "/Romeo");
        enter.AddElement("x", "http://jabber.org/protocol/muc");
        await romeo.SendAsync(enter, cts.Token);
        await romeo.WaitForAsync(e => e.Name == "message" && e.Element("subject", Ns.Client) is not null, wait, cts.Token);
        var instant = new Tendril.Xml.XmlElement("iq", Ns.Client).SetAttribute("type", "set").SetAttribute("to", room);
        instant.AddElement("query", "http://jabber.org/protocol/muc#owner").AddElement("x", "jabber:x:data").SetAttribute("type", "submit");
        await romeo.SendIqAsync(instant, wait, cts.Token);

        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir };
        foreach (var a in new[] { "--experimental-websocket", Path.Combine(dir, "xmppjs_muc.mjs"), WebSocketTests.Url(server).ToString(), "juliet", "s3cret-pw", room, "Juliet" }) psi.ArgumentList.Add(a);
        using var node = Process.Start(psi)!;
        var stderr = node.StandardError.ReadToEndAsync();
        var lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
        node.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Writer.TryWrite(e.Data); };
        node.BeginOutputReadLine();
        try
        {
            var joined = await lines.Reader.ReadAsync(cts.Token);
            if (joined != "JOINED participant") Assert.Fail($"{joined}\n{await stderr}\n{server.Log}");
            await romeo.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == room + "/Juliet", wait, cts.Token);
            var say = new Tendril.Xml.XmlElement("message", Ns.Client).SetAttribute("to", room).SetAttribute("type", "groupchat");
            say.AddElement("body", Ns.Client).Add("hello room");
            await romeo.SendAsync(say, cts.Token);
            var echo = await romeo.WaitForAsync(e => e.Name == "message" && e.GetAttribute("from") == room + "/Juliet", wait, cts.Token);
            Assert.Equal("echo: hello room", echo.Element("body", Ns.Client)!.Text);
            Assert.Equal("GOT hello room", await lines.Reader.ReadAsync(cts.Token));
            await node.WaitForExitAsync(cts.Token);
            if (node.ExitCode != 0) Assert.Fail(await stderr);
        }
        catch (OperationCanceledException)
        {
            node.Kill(entireProcessTree: true);
            Assert.Fail($"@xmpp/client timed out:\n{await stderr}\n--- server log ---\n{server.Log}");
        }
    }
}

using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Tendril.Client;
using Tendril.Protocol;
using Tendril.Protocol.Sasl;
using Tendril.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Tests.Web;

/// <summary>
/// XMPP over WebSocket (RFC 7395) against the real process, with System.Net.WebSockets.ClientWebSocket: the framing,
/// a SCRAM login through the same state machine as TCP, chat with a TCP client, and the framing errors.
/// </summary>
public sealed class WebSocketTests
{
    private const string Password = "s3cret-pw";
    private const string Framing = "urn:ietf:params:xml:ns:xmpp-framing";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    internal static Task<TendrilProcess> StartAsync(params string[] users) =>
        TendrilProcess.StartAsync(users.Select(u => (u + "@localhost", Password)), section =>
            ((Dictionary<string, object>)section["Http"])["TrustLoopback"] = true);

    [Fact]
    public async Task Login_bind_and_chat_with_a_tcp_client()
    {
        await using var server = await StartAsync("juliet", "romeo");
        using var ws = await ConnectAsync(server);
        Assert.Equal("xmpp", ws.SubProtocol);

        var open = await OpenAsync(ws);
        Assert.Equal("localhost", open.GetAttribute("from"));
        Assert.Equal("1.0", open.GetAttribute("version"));
        Assert.False(string.IsNullOrEmpty(open.GetAttribute("id")));
        var (raw, features) = await ReceiveAsync(ws);
        Assert.StartsWith("<stream:features xmlns:stream='http://etherx.jabber.org/streams'", raw, StringComparison.Ordinal);
        Assert.True(features.Is("features", Ns.Streams));
        Assert.Null(features.Element("starttls", Ns.Tls)); // no STARTTLS inside a WebSocket
        var mechanisms = new List<string>();
        foreach (var m in features.Element("mechanisms", Ns.Sasl)!.Elements()) mechanisms.Add(m.Text);
        Assert.Contains("SCRAM-SHA-256", mechanisms);

        // SCRAM-SHA-256, the same exchange as on TCP.
        var scram = new ScramClient(ScramHash.Sha256, "juliet", Password);
        await SendAsync(ws, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{Convert.ToBase64String(scram.CreateClientFirst())}</auth>");
        var (_, challenge) = await ReceiveAsync(ws);
        Assert.Equal("challenge", challenge.Name);
        var final = scram.CreateClientFinal(Convert.FromBase64String(challenge.Text));
        await SendAsync(ws, $"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{Convert.ToBase64String(final)}</response>");
        var (_, success) = await ReceiveAsync(ws);
        Assert.True(success.Is("success", Ns.Sasl), success.ToString());
        Assert.True(scram.VerifyServerFinal(Convert.FromBase64String(success.Text)));

        // Restart with a new <open/> (RFC 7395 §3.5), then bind.
        var open2 = await OpenAsync(ws);
        Assert.NotEqual(open.GetAttribute("id"), open2.GetAttribute("id"));
        var (_, features2) = await ReceiveAsync(ws);
        Assert.NotNull(features2.Element("bind", Ns.Bind));
        await SendAsync(ws, "<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>web</resource></bind></iq>");
        var (_, bound) = await ReceiveAsync(ws);
        Assert.Equal("result", bound.GetAttribute("type"));
        Assert.Equal("juliet@localhost/web", bound.Element("bind", Ns.Bind)!.Element("jid", Ns.Bind)!.Text);
        await SendAsync(ws, "<presence xmlns='jabber:client'/>");

        await using var romeo = new XmppClient(new XmppClientOptions
        {
            Jid = Jid.Parse("romeo@localhost"), Password = Password, Host = "127.0.0.1", Port = server.C2sPort, AcceptAnyCertificate = true,
        });
        await romeo.ConnectAsync();
        await romeo.SendMessageAsync(Jid.Parse("juliet@localhost/web"), "over tcp");
        var message = await ReceiveUntilAsync(ws, e => e.Name == "message");
        Assert.Equal(Ns.Client, message.Namespace); // each message stands alone, so it declares jabber:client
        Assert.Equal("over tcp", message.Element("body", Ns.Client)!.Text);
        Assert.StartsWith("romeo@localhost/", message.GetAttribute("from"), StringComparison.Ordinal);

        await SendAsync(ws, $"<message xmlns='jabber:client' to='{romeo.Jid}' type='chat'><body>over websocket</body></message>");
        var reply = await romeo.WaitForAsync(s => s.Name == "message", Timeout);
        Assert.Equal("over websocket", reply.Element("body", Ns.Client)!.Text);
        Assert.Equal("juliet@localhost/web", reply.GetAttribute("from"));

        // <close/> is answered with <close/> and the WebSocket closing handshake (§3.6).
        await SendAsync(ws, $"<close xmlns='{Framing}'/>");
        var close = await ReceiveUntilAsync(ws, e => e.Name == "close");
        Assert.Equal(Framing, close.Namespace);
        await ExpectClosedAsync(ws);
    }

    [Fact]
    public async Task Framing_errors_close_the_stream()
    {
        await using var server = await StartAsync("juliet");

        // Without the 'xmpp' subprotocol the handshake is refused (RFC 7395 §3.1).
        using (var plain = new ClientWebSocket())
        {
            await Assert.ThrowsAsync<WebSocketException>(() => plain.ConnectAsync(Url(server), CancellationToken.None));
        }

        // Two elements in one message: not a standalone document (§3.3.3).
        using (var ws = await ConnectAsync(server))
        {
            await OpenAsync(ws);
            await ReceiveAsync(ws); // features
            await SendAsync(ws, "<presence xmlns='jabber:client'/><presence xmlns='jabber:client'/>");
            await ExpectStreamErrorAsync(ws, "not-well-formed");
        }

        // Bad XML.
        using (var ws = await ConnectAsync(server))
        {
            await OpenAsync(ws);
            await ReceiveAsync(ws);
            await SendAsync(ws, "<message xmlns='jabber:client'><body>x</message>");
            await ExpectStreamErrorAsync(ws, "not-well-formed");
        }

        // An incomplete element.
        using (var ws = await ConnectAsync(server))
        {
            await OpenAsync(ws);
            await ReceiveAsync(ws);
            await SendAsync(ws, "<message xmlns='jabber:client'><body>");
            await ExpectStreamErrorAsync(ws, "not-well-formed");
        }

        // A wrong host in <open/> gets a header first, then the error (RFC 6120 §4.9.1.2).
        using (var ws = await ConnectAsync(server))
        {
            await SendAsync(ws, $"<open xmlns='{Framing}' to='elsewhere.example' version='1.0'/>");
            var (_, open) = await ReceiveAsync(ws);
            Assert.Equal("open", open.Name);
            await ExpectStreamErrorAsync(ws, "host-unknown");
        }
    }

    [Fact]
    public async Task One_parse_per_message_accepts_split_frames_and_keepalives_and_refuses_trailing_content()
    {
        await using var server = await StartAsync("juliet");

        // One message sent as several WebSocket frames (split inside a tag and a name), then a whitespace keepalive,
        // then two pings in two messages sent back to back: each message is one element, answered in order.
        using (var ws = await ConnectAsync(server))
        {
            await LoginAsync(ws, "juliet");
            var iq = Encoding.UTF8.GetBytes("<iq xmlns='jabber:client' type='get' id='split' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
            await ws.SendAsync(iq.AsMemory(0, 3), WebSocketMessageType.Text, false, CancellationToken.None);
            await ws.SendAsync(iq.AsMemory(3, 40), WebSocketMessageType.Text, false, CancellationToken.None);
            await ws.SendAsync(iq.AsMemory(43), WebSocketMessageType.Text, true, CancellationToken.None);
            await SendAsync(ws, " \r\n ");
            await SendAsync(ws, "<iq xmlns='jabber:client' type='get' id='a' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
            await SendAsync(ws, "<iq xmlns='jabber:client' type='get' id='b' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq> ");
            var answers = new List<string?>();
            for (var i = 0; i < 3; i++)
            {
                var (raw, e) = await ReceiveAsync(ws);
                Assert.False(e.Is("error", Ns.Streams), raw);
                answers.Add(e.GetAttribute("id"));
            }
            Assert.Equal(["split", "a", "b"], answers);
        }

        // Text after the element in the same message (§3.3.3: exactly one element).
        using (var ws = await ConnectAsync(server))
        {
            await OpenAsync(ws);
            await ReceiveAsync(ws);
            await SendAsync(ws, "<presence xmlns='jabber:client'/>trailing");
            await ExpectStreamErrorAsync(ws, "not-well-formed");
        }

        // The single parse applies the RFC 6120 §11 restrictions as on TCP.
        using (var ws = await ConnectAsync(server))
        {
            await OpenAsync(ws);
            await ReceiveAsync(ws);
            await SendAsync(ws, "<!-- a comment -->");
            await ExpectStreamErrorAsync(ws, "restricted-xml");
        }
    }

    [Fact]
    public async Task Wss_on_the_https_port_counts_as_secure_without_loopback_trust()
    {
        // RequireTls is on (the default) and loopback is not trusted: only the HTTPS listener makes the stream secure.
        await using var server = await TendrilProcess.StartAsync([("juliet@localhost", Password)]);
        using (var plain = new ClientWebSocket())
        {
            plain.Options.AddSubProtocol("xmpp");
            await Assert.ThrowsAsync<WebSocketException>(() => plain.ConnectAsync(Url(server), CancellationToken.None)); // 403 over plain ws://
        }

        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("xmpp");
        System.Security.Cryptography.X509Certificates.X509Certificate? seen = null;
        ws.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) => { seen = certificate; return true; }; // self-signed
        using (var cts = new CancellationTokenSource(Timeout))
        {
            await ws.ConnectAsync(new Uri($"wss://127.0.0.1:{server.HttpsPort}/xmpp-websocket"), cts.Token);
        }
        Assert.Equal("xmpp", ws.SubProtocol);
        Assert.NotNull(seen);
        Assert.Contains("CN=localhost", seen!.Subject, StringComparison.Ordinal);

        await OpenAsync(ws);
        var (_, features) = await ReceiveAsync(ws);
        var mechanisms = new List<string>();
        foreach (var m in features.Element("mechanisms", Ns.Sasl)!.Elements()) mechanisms.Add(m.Text);
        Assert.Contains("PLAIN", mechanisms); // PLAIN is offered only on secure streams
        var scram = new ScramClient(ScramHash.Sha256, "juliet", Password);
        await SendAsync(ws, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{Convert.ToBase64String(scram.CreateClientFirst())}</auth>");
        var (_, challenge) = await ReceiveAsync(ws);
        var final = scram.CreateClientFinal(Convert.FromBase64String(challenge.Text));
        await SendAsync(ws, $"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{Convert.ToBase64String(final)}</response>");
        var (_, success) = await ReceiveAsync(ws);
        Assert.True(success.Is("success", Ns.Sasl), success.ToString());
        Assert.True(scram.VerifyServerFinal(Convert.FromBase64String(success.Text)));
        await OpenAsync(ws);
        await ReceiveAsync(ws); // features
        await SendAsync(ws, "<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>secure</resource></bind></iq>");
        var (_, bound) = await ReceiveAsync(ws);
        Assert.Equal("juliet@localhost/secure", bound.Element("bind", Ns.Bind)!.Element("jid", Ns.Bind)!.Text);
        await SendAsync(ws, "<iq xmlns='jabber:client' type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        var pong = await ReceiveUntilAsync(ws, e => e.Name == "iq" && e.GetAttribute("id") == "p1");
        Assert.Equal("result", pong.GetAttribute("type"));
        await SendAsync(ws, $"<close xmlns='{Framing}'/>");
        await ReceiveUntilAsync(ws, e => e.Name == "close");
        await ExpectClosedAsync(ws);
    }

    /// <summary>Opens the stream, logs in with SCRAM-SHA-256, restarts and binds resource "web".</summary>
    private static async Task LoginAsync(ClientWebSocket ws, string user)
    {
        await OpenAsync(ws);
        await ReceiveAsync(ws); // features
        var scram = new ScramClient(ScramHash.Sha256, user, Password);
        await SendAsync(ws, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{Convert.ToBase64String(scram.CreateClientFirst())}</auth>");
        var (_, challenge) = await ReceiveAsync(ws);
        await SendAsync(ws, $"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{Convert.ToBase64String(scram.CreateClientFinal(Convert.FromBase64String(challenge.Text)))}</response>");
        var (raw, success) = await ReceiveAsync(ws);
        Assert.True(success.Is("success", Ns.Sasl), raw);
        await OpenAsync(ws);
        await ReceiveAsync(ws); // features
        await SendAsync(ws, "<iq xmlns='jabber:client' type='set' id='bind' to='localhost'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>web</resource></bind></iq>");
        var (_, bound) = await ReceiveAsync(ws);
        Assert.Equal("result", bound.GetAttribute("type"));
    }

    internal static Uri Url(TendrilProcess server) => new($"ws://127.0.0.1:{server.HttpPort}/xmpp-websocket");

    internal static async Task<ClientWebSocket> ConnectAsync(TendrilProcess server)
    {
        var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("xmpp");
        using var cts = new CancellationTokenSource(Timeout);
        await ws.ConnectAsync(Url(server), cts.Token);
        return ws;
    }

    private static async Task<XmlElement> OpenAsync(ClientWebSocket ws)
    {
        await SendAsync(ws, $"<open xmlns='{Framing}' to='localhost' version='1.0'/>");
        var (_, open) = await ReceiveAsync(ws);
        Assert.Equal("open", open.Name);
        Assert.Equal(Framing, open.Namespace);
        return open;
    }

    internal static Task SendAsync(ClientWebSocket ws, string xml) =>
        ws.SendAsync(Encoding.UTF8.GetBytes(xml), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>Receives one message and parses it on its own: every message must be a standalone element.</summary>
    internal static async Task<(string Raw, XmlElement Element)> ReceiveAsync(ClientWebSocket ws)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var buffer = new ArrayBufferWriter<byte>();
        ValueWebSocketReceiveResult result;
        do
        {
            result = await ws.ReceiveAsync(buffer.GetMemory(4096), cts.Token);
            buffer.Advance(result.Count);
        }
        while (!result.EndOfMessage);
        Assert.Equal(WebSocketMessageType.Text, result.MessageType);
        var parser = new XmlStreamParser(new XmlParserOptions { FragmentMode = true });
        var sequence = new ReadOnlySequence<byte>(buffer.WrittenMemory);
        var raw = Encoding.UTF8.GetString(buffer.WrittenSpan);
        Assert.True(parser.TryRead(ref sequence, out var ev), "incomplete message: " + raw);
        Assert.True(sequence.IsEmpty, "more than one element in a message: " + raw);
        return (raw, ev.Element!);
    }

    private static async Task<XmlElement> ReceiveUntilAsync(ClientWebSocket ws, Func<XmlElement, bool> predicate)
    {
        while (true)
        {
            var (_, element) = await ReceiveAsync(ws);
            if (predicate(element)) return element;
        }
    }

    private static async Task ExpectStreamErrorAsync(ClientWebSocket ws, string condition)
    {
        var (raw, error) = await ReceiveAsync(ws);
        Assert.True(error.Is("error", Ns.Streams), raw);
        Assert.StartsWith("<stream:error xmlns:stream='http://etherx.jabber.org/streams'", raw, StringComparison.Ordinal);
        Assert.NotNull(error.Element(condition, Ns.StreamErrors));
        var (_, close) = await ReceiveAsync(ws);
        Assert.Equal("close", close.Name);
        await ExpectClosedAsync(ws);
    }

    private static async Task ExpectClosedAsync(ClientWebSocket ws)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var result = await ws.ReceiveAsync(new byte[256], cts.Token);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, result.CloseStatus);
    }
}

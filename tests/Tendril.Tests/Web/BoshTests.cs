using System.Net;
using System.Text;
using System.Xml.Linq;
using Tendril.Client;
using Tendril.Protocol;
using Tendril.Protocol.Sasl;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Web;

/// <summary>BOSH (XEP-0124 + XEP-0206) protocol tests with HttpClient against the real process.</summary>
public sealed class BoshTests
{
    private const string Password = "s3cret-pw";
    private static readonly XNamespace Bind = "http://jabber.org/protocol/httpbind";
    private static readonly XNamespace Xbosh = "urn:xmpp:xbosh";
    private static readonly XNamespace Streams = "http://etherx.jabber.org/streams";
    private static readonly XNamespace Sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
    private static readonly XNamespace Client = "jabber:client";

    private static Task<TendrilProcess> StartAsync(Action<Dictionary<string, object>>? bosh = null, params string[] users) =>
        TendrilProcess.StartAsync(users.Select(u => (u + "@localhost", Password)), section =>
        {
            ((Dictionary<string, object>)section["Http"])["TrustLoopback"] = true;
            var b = new Dictionary<string, object>();
            bosh?.Invoke(b);
            section["Bosh"] = b;
        });

    private sealed class Session(HttpClient http, string sid, long rid)
    {
        public string Sid { get; } = sid;
        public long Rid { get; set; } = rid;
        public HttpClient Http { get; } = http;

        public Task<XElement> SendAsync(string payload = "", string attributes = "") => PostAsync(Http, Body(++Rid, payload, attributes));

        public string Body(long rid, string payload = "", string attributes = "") =>
            $"<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='{rid}' sid='{Sid}' {attributes}>{payload}</body>";

        /// <summary>Sends empty requests until a response holds a matching child.</summary>
        public async Task<XElement> ReceiveAsync(Func<XElement, bool> predicate, XElement? first = null)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            var body = first ?? await SendAsync();
            while (true)
            {
                if (body.Elements().FirstOrDefault(predicate) is { } found) return found;
                Assert.True(DateTime.UtcNow < deadline, "nothing matching arrived; last body: " + body);
                Assert.Null(body.Attribute("type"));
                body = await SendAsync();
            }
        }
    }

    private static async Task<XElement> PostAsync(HttpClient http, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "text/xml");
        using var response = await http.PostAsync("/http-bind", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/xml", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        var root = XElement.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(Bind + "body", root.Name);
        return root;
    }

    private static HttpClient Http(TendrilProcess server) =>
        new() { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}"), Timeout = TimeSpan.FromSeconds(60) };

    private static async Task<(Session Session, XElement Response)> CreateAsync(HttpClient http, int wait = 5, int hold = 1)
    {
        var response = await PostAsync(http, $"<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' content='text/xml; charset=utf-8' hold='{hold}' rid='1000' to='localhost' ver='1.6' wait='{wait}' xml:lang='en' xmpp:version='1.0'/>");
        return (new Session(http, (string)response.Attribute("sid")!, 1000), response);
    }

    private static async Task LoginAsync(Session s, string user)
    {
        var scram = new ScramClient(ScramHash.Sha256, user, Password);
        var challenge = await s.ReceiveAsync(e => e.Name == Sasl + "challenge",
            await s.SendAsync($"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{Convert.ToBase64String(scram.CreateClientFirst())}</auth>"));
        var final = scram.CreateClientFinal(Convert.FromBase64String(challenge.Value));
        var success = await s.ReceiveAsync(e => e.Name == Sasl + "success" || e.Name == Sasl + "failure",
            await s.SendAsync($"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{Convert.ToBase64String(final)}</response>"));
        Assert.Equal(Sasl + "success", success.Name);
        Assert.True(scram.VerifyServerFinal(Convert.FromBase64String(success.Value)));
        // XEP-0206 §5: the restart request.
        var features = await s.ReceiveAsync(e => e.Name == Streams + "features", await s.SendAsync("", "to='localhost' xml:lang='en' xmpp:restart='true'"));
        Assert.NotNull(features.Element((XNamespace)"urn:ietf:params:xml:ns:xmpp-bind" + "bind"));
        var bound = await s.ReceiveAsync(e => e.Name == Client + "iq",
            await s.SendAsync("<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bosh</resource></bind></iq>"));
        Assert.Equal("result", (string?)bound.Attribute("type"));
    }

    [Fact]
    public async Task Session_creation_login_chat_with_a_tcp_client_and_terminate()
    {
        await using var server = await StartAsync(null, "juliet", "romeo");
        using var http = Http(server);
        var (s, created) = await CreateAsync(http);
        Assert.Equal(32, s.Sid.Length);
        Assert.Equal("5", (string?)created.Attribute("wait"));
        Assert.Equal("1", (string?)created.Attribute("hold"));
        Assert.Equal("2", (string?)created.Attribute("requests"));
        Assert.Equal("60", (string?)created.Attribute("inactivity"));
        Assert.Equal("2", (string?)created.Attribute("polling"));
        Assert.Equal("localhost", (string?)created.Attribute("from"));
        Assert.NotNull(created.Attribute("ver"));
        Assert.False(string.IsNullOrEmpty((string?)created.Attribute("authid")));
        Assert.Equal("1.0", (string?)created.Attribute(Xbosh + "version"));
        Assert.Equal("true", (string?)created.Attribute(Xbosh + "restartlogic"));
        var features = await s.ReceiveAsync(e => e.Name == Streams + "features", created);
        Assert.Contains(features.Element(Sasl + "mechanisms")!.Elements(), m => m.Value == "SCRAM-SHA-256");
        Assert.Null(features.Element((XNamespace)"urn:ietf:params:xml:ns:xmpp-tls" + "starttls"));

        await LoginAsync(s, "juliet");

        // A request is held; a message from a TCP client arrives in it.
        var held = s.SendAsync("<presence xmlns='jabber:client'/>");
        await using var romeo = new XmppClient(new XmppClientOptions
        {
            Jid = Jid.Parse("romeo@localhost"), Password = Password, Host = "127.0.0.1", Port = server.C2sPort, AcceptAnyCertificate = true,
        });
        await romeo.ConnectAsync();
        await romeo.SendMessageAsync(Jid.Parse("juliet@localhost/bosh"), "to a held request");
        var message = await s.ReceiveAsync(e => e.Name == Client + "message", await held);
        Assert.Equal("to a held request", message.Element(Client + "body")!.Value);

        await s.SendAsync($"<message xmlns='jabber:client' to='{romeo.Jid}' type='chat'><body>from bosh</body></message>");
        var reply = await romeo.WaitForAsync(m => m.Name == "message", TimeSpan.FromSeconds(20));
        Assert.Equal("from bosh", reply.Element("body", Ns.Client)!.Text);
        Assert.Equal("juliet@localhost/bosh", reply.GetAttribute("from"));

        // Terminate (XEP-0124 §13): the answer is a terminate body; the sid is gone afterwards.
        var end = await s.SendAsync("<presence xmlns='jabber:client' type='unavailable'/>", "type='terminate'");
        Assert.Equal("terminate", (string?)end.Attribute("type"));
        var gone = await s.SendAsync();
        Assert.Equal("terminate", (string?)gone.Attribute("type"));
        Assert.Equal("item-not-found", (string?)gone.Attribute("condition"));
    }

    [Fact]
    public async Task Repeated_rid_gets_the_same_answer_and_a_rid_outside_the_window_terminates()
    {
        await using var server = await StartAsync(null, "juliet");
        using var http = Http(server);
        var (s, created) = await CreateAsync(http, wait: 2);
        await s.ReceiveAsync(e => e.Name == Streams + "features", created);

        var scram = new ScramClient(ScramHash.Sha256, "juliet", Password);
        var request = s.Body(++s.Rid, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{Convert.ToBase64String(scram.CreateClientFirst())}</auth>");
        var first = await PostAsync(http, request);
        Assert.NotNull(first.Element(Sasl + "challenge"));
        // The client lost the answer and sends the same request again (§14.3): the very same answer, not a new exchange.
        var again = await PostAsync(http, request);
        Assert.Equal(first.ToString(), again.ToString());

        // requests='2': rid + 3 is beyond the window (§14.2) and ends the session with item-not-found.
        var beyond = await PostAsync(http, s.Body(s.Rid + 3));
        Assert.Equal("terminate", (string?)beyond.Attribute("type"));
        Assert.Equal("item-not-found", (string?)beyond.Attribute("condition"));
        var after = await PostAsync(http, s.Body(s.Rid + 1));
        Assert.Equal("item-not-found", (string?)after.Attribute("condition"));
    }

    [Fact]
    public async Task Inactive_session_expires_and_cors_is_limited_to_configured_origins()
    {
        await using var server = await StartAsync(b =>
        {
            b["Inactivity"] = 2;
            b["CorsOrigins"] = new[] { "https://app.example" };
        }, "juliet");
        using var http = Http(server);
        var (s, created) = await CreateAsync(http, wait: 1);
        await s.ReceiveAsync(e => e.Name == Streams + "features", created);
        Assert.Equal("2", (string?)created.Attribute("inactivity"));
        await Task.Delay(TimeSpan.FromSeconds(4));
        var gone = await s.SendAsync();
        Assert.Equal("terminate", (string?)gone.Attribute("type"));
        Assert.Equal("item-not-found", (string?)gone.Attribute("condition"));

        using var allowed = new HttpRequestMessage(HttpMethod.Options, "/http-bind");
        allowed.Headers.Add("Origin", "https://app.example");
        allowed.Headers.Add("Access-Control-Request-Method", "POST");
        using var ok = await http.SendAsync(allowed);
        Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
        Assert.Equal("https://app.example", ok.Headers.GetValues("Access-Control-Allow-Origin").Single());

        using var other = new HttpRequestMessage(HttpMethod.Options, "/http-bind");
        other.Headers.Add("Origin", "https://evil.example");
        using var refused = await http.SendAsync(other);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
    }

    /// <summary>
    /// Issue 19: a BOSH client that holds no request does not make the server collect its output without bound — the
    /// session stops taking output from the stream, the stream's byte limit applies, and (counted) each message is then
    /// delivered when the client polls again, or bounced; none is lost.
    /// </summary>
    [Fact]
    public async Task A_bosh_client_that_stops_polling_is_bounded_and_every_message_is_delivered_or_bounced()
    {
        await using var server = await TendrilProcess.StartAsync(new[] { "juliet", "romeo" }.Select(u => (u + "@localhost", Password)), section =>
        {
            ((Dictionary<string, object>)section["Http"])["TrustLoopback"] = true;
            section["Limits"] = new Dictionary<string, object> { ["OutputBudgetBytes"] = 16384, ["OutputLimitBytes"] = 262144 };
        });
        using var http = Http(server);
        var (s, created) = await CreateAsync(http);
        await s.ReceiveAsync(e => e.Name == Streams + "features", created);
        await LoginAsync(s, "juliet"); // and no request is held from here on, until juliet polls below

        await using var romeo = new XmppClient(new XmppClientOptions
        {
            Jid = Jid.Parse("romeo@localhost"), Password = Password, Host = "127.0.0.1", Port = server.C2sPort, AcceptAnyCertificate = true,
        });
        await romeo.ConnectAsync();
        var tally = new Tendril.Tests.Support.MessageTally(new string('z', 5000) + "#");
        tally.WatchSender(romeo);
        const int Sent = 200; // 1 MB for juliet
        for (var i = 0; i < Sent; i++) await tally.SendNextAsync(romeo, Jid.Parse("juliet@localhost/bosh"));
        // Romeo's stanzas are routed in order: his bounces have arrived once his ping is answered.
        var ping = new Tendril.Xml.XmlElement("iq").SetAttribute("type", "get").SetAttribute("to", "localhost");
        ping.AddElement("ping", "urn:xmpp:ping");
        await romeo.SendIqAsync(ping, TimeSpan.FromSeconds(30));

        // Juliet polls: what was not bounced arrives, each once and in order.
        var delivered = new List<int>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (delivered.Count + tally.Bounced < Sent)
        {
            Assert.True(DateTime.UtcNow < deadline, $"delivered {delivered.Count}, bounced {tally.Bounced} of {Sent}");
            var body = await s.SendAsync();
            Assert.Null(body.Attribute("type"));
            foreach (var m in body.Elements(Client + "message"))
            {
                var text = m.Element(Client + "body")!.Value;
                delivered.Add(int.Parse(text.AsSpan(text.IndexOf('#') + 1), System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        // What the server held for a client not polling — the session's 64K characters, the stream's pipe, its 256 KiB
        // queue — is well under the 1 MB sent (without the session's bound it collected 197 of the 200).
        Assert.True(delivered.Count * 5000 < 600_000, $"delivered {delivered.Count}: the session collected the output without bound");
        Assert.Equal(delivered.Count, delivered.Distinct().Count());
        Assert.Equal(delivered.Order(), delivered);
        Assert.Equal(Sent, delivered.Count + tally.Bounced);
        Console.WriteLine($"BOSH client not polling: sent {Sent}, delivered {delivered.Count}, bounced {tally.Bounced}, lost 0");
    }
}

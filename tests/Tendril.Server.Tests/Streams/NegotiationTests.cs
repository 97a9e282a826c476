using System.Text;
using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Streams;

/// <summary>Stream negotiation state by state (RFC 6120 §4–§7) over in-memory connections.</summary>
public sealed class NegotiationTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        await _server.AddUserAsync("juliet", "r0m30myr0m30");
        await _server.AddUserAsync("romeo", "juliet4ever");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    // ---- StartState: the stream header ------------------------------------------------------------------------

    [Fact]
    public async Task Start_header_is_answered_with_header_and_required_starttls_only()
    {
        await using var c = _server.Connect();
        var features = await c.OpenAsync();
        Assert.Equal("localhost", c.ServerHeader!.GetAttribute("from"));
        Assert.Equal("1.0", c.ServerHeader.GetAttribute("version"));
        Assert.False(string.IsNullOrEmpty(c.ServerHeader.GetAttribute("id")));
        var starttls = features.Element("starttls", Ns.Tls);
        Assert.NotNull(starttls);
        Assert.NotNull(starttls.Element("required", Ns.Tls));
        Assert.Null(features.Element("mechanisms", Ns.Sasl)); // no SASL before TLS
    }

    [Fact]
    public async Task Start_header_split_at_every_byte_gives_the_same_features()
    {
        var bytes = Encoding.UTF8.GetBytes(new TestClient(Stream.Null).Header());
        for (var chunk = 1; chunk <= 7; chunk++)
        {
            await using var c = _server.Connect();
            await c.SendAsync(bytes, chunk);
            await c.ExpectStreamHeaderAsync();
            var features = await c.ExpectAsync("features", Ns.Streams);
            Assert.NotNull(features.Element("starttls", Ns.Tls));
        }
    }

    [Fact]
    public async Task Start_unknown_host_is_host_unknown()
    {
        await using var c = _server.Connect();
        await c.SendAsync(c.Header(to: "example.org"));
        await c.ExpectStreamHeaderAsync();
        await c.ExpectStreamErrorAsync("host-unknown");
    }

    [Fact]
    public async Task Start_missing_to_is_host_unknown()
    {
        await using var c = _server.Connect();
        await c.SendAsync("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
        await c.ExpectStreamErrorAsync("host-unknown");
    }

    [Fact]
    public async Task Start_wrong_content_namespace_is_invalid_namespace()
    {
        await using var c = _server.Connect();
        await c.SendAsync(c.Header(ns: "jabber:server"));
        await c.ExpectStreamErrorAsync("invalid-namespace");
    }

    [Fact]
    public async Task Start_wrong_stream_namespace_is_invalid_namespace()
    {
        await using var c = _server.Connect();
        await c.SendAsync("<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='localhost' version='1.0'>");
        await c.ExpectStreamErrorAsync("invalid-namespace");
    }

    [Theory]
    [InlineData("0.9")]
    [InlineData("2.0")]
    [InlineData("")]
    [InlineData("one")]
    public async Task Start_unsupported_version_is_unsupported_version(string version)
    {
        await using var c = _server.Connect();
        await c.SendAsync(c.Header(version: version));
        await c.ExpectStreamErrorAsync("unsupported-version");
    }

    [Fact]
    public async Task Start_missing_version_is_unsupported_version()
    {
        await using var c = _server.Connect();
        await c.SendAsync("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost'>");
        await c.ExpectStreamErrorAsync("unsupported-version");
    }

    [Fact]
    public async Task Start_minor_version_above_zero_is_accepted()
    {
        await using var c = _server.Connect();
        await c.SendAsync(c.Header(version: "1.1"));
        await c.ExpectStreamHeaderAsync();
        await c.ExpectAsync("features", Ns.Streams);
    }

    // ---- TlsState ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task Tls_auth_before_starttls_fails_with_encryption_required()
    {
        await using var c = _server.Connect();
        await c.OpenAsync();
        await c.SendAsync("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>");
        var failure = await c.ExpectAsync("failure", Ns.Sasl);
        Assert.NotNull(failure.Element("encryption-required", Ns.Sasl));
    }

    [Fact]
    public async Task Tls_stanza_before_starttls_is_not_authorized()
    {
        await using var c = _server.Connect();
        await c.OpenAsync();
        await c.SendAsync("<message to='romeo@localhost'><body>hi</body></message>");
        await c.ExpectStreamErrorAsync("not-authorized");
    }

    [Fact]
    public async Task Tls_starttls_then_restart_offers_mechanisms_with_plain()
    {
        await using var c = _server.Connect();
        await c.OpenAsync();
        await c.StartTlsAsync();
        var features = await c.OpenAsync();
        Assert.Null(features.Element("starttls", Ns.Tls));
        var mechanisms = features.Element("mechanisms", Ns.Sasl)!;
        var names = new List<string>();
        foreach (var m in mechanisms.Elements("mechanism")) names.Add(m.Text);
        Assert.Equal(["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"], names);
    }

    [Fact]
    public async Task Tls_optional_when_not_required_but_plain_never_offered_in_clear()
    {
        await using var server = await TestServer.StartAsync(o => o.C2s.RequireTls = false);
        await server.AddUserAsync("juliet", "pw");
        await using var c = server.Connect();
        var features = await c.OpenAsync();
        var starttls = features.Element("starttls", Ns.Tls)!;
        Assert.Null(starttls.Element("required", Ns.Tls));
        var mechanisms = features.Element("mechanisms", Ns.Sasl)!;
        foreach (var m in mechanisms.Elements("mechanism")) Assert.NotEqual("PLAIN", m.Text);
        await c.SendAsync($"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{Convert.ToBase64String(Protocol.Sasl.PlainMechanism.Create("juliet", "pw"))}</auth>");
        var failure = await c.ExpectAsync("failure", Ns.Sasl);
        Assert.NotNull(failure.Element("encryption-required", Ns.Sasl));
    }

    [Fact]
    public async Task Tls_direct_tls_offers_mechanisms_at_once()
    {
        await using var c = _server.Connect(directTls: true);
        await c.UpgradeAsync();
        var features = await c.OpenAsync();
        Assert.Null(features.Element("starttls", Ns.Tls));
        Assert.NotNull(features.Element("mechanisms", Ns.Sasl));
    }

    // ---- Restarts with whitespace left over from the old stream (issue 21) -------------------------------------

    private static string PlainAuth(string user, string password) =>
        $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{Convert.ToBase64String(Protocol.Sasl.PlainMechanism.Create(user, password))}</auth>";

    [Theory]
    [InlineData("\n", "with-auth")]        // go-sendxmpp: "</auth>\n" in one write, then "<?xml …"
    [InlineData("\r\n  ", "with-auth")]
    [InlineData("\n", "with-header")]      // the newline in the next write, before the new stream's declaration
    [InlineData("\r\n  ", "with-header")]
    [InlineData("\r\n  ", "bytewise")]     // split at every byte
    public async Task Restart_after_sasl_success_accepts_leftover_whitespace_before_the_xml_declaration(string leftover, string how)
    {
        await using var c = await SecureAsync();
        await c.SendAsync(PlainAuth("juliet", "r0m30myr0m30") + (how == "with-auth" ? leftover : ""));
        await c.ExpectAsync("success", Ns.Sasl);
        var features = await c.RestartAsync(how == "with-auth" ? "" : leftover, how == "bytewise" ? 1 : 0);
        Assert.NotNull(features.Element("bind", Ns.Bind));
        await c.SendAsync("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>\n");
        Assert.Equal("result", (await c.ExpectAsync("iq")).GetAttribute("type"));
    }

    [Theory]
    [InlineData("\nx", "not-well-formed")]
    [InlineData("\n<!-- left over -->", "restricted-xml")]
    [InlineData("\n<?xml version='1.0'?>", "restricted-xml")]
    public async Task Restart_after_sasl_success_still_refuses_junk_before_the_xml_declaration(string junk, string condition)
    {
        await using var c = await SecureAsync();
        await c.SendAsync(PlainAuth("juliet", "r0m30myr0m30") + "\n");
        await c.ExpectAsync("success", Ns.Sasl);
        await c.SendAsync(junk + c.Header());
        await c.ExpectStreamErrorAsync(condition);
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n  ")]
    public async Task Starttls_whitespace_arriving_after_the_starttls_read_does_not_break_the_handshake(string leftover)
    {
        // What arrives with <starttls/> is dropped (RFC 6120 §5.4.3.3); a newline in a later segment, here after
        // <proceed/>, used to be read by the TLS handshake as the first byte of a ClientHello.
        await using var c = _server.Connect();
        await c.OpenAsync();
        await c.SendAsync("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        await c.ExpectAsync("proceed", Ns.Tls);
        await c.SendAsync(leftover);
        await c.UpgradeAsync();
        var features = await c.OpenAsync();
        Assert.NotNull(features.Element("mechanisms", Ns.Sasl));
    }

    // ---- AuthState --------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-1")]
    [InlineData("PLAIN")]
    public async Task Auth_succeeds_with_each_mechanism_and_offers_bind(string mechanism)
    {
        await using var c = _server.Connect();
        var features = await c.AuthenticateAsync("juliet", "r0m30myr0m30", mechanism);
        Assert.NotNull(features.Element("bind", Ns.Bind));
        Assert.Null(features.Element("mechanisms", Ns.Sasl));
        var session = features.Element("session", Ns.Session);
        Assert.NotNull(session?.Element("optional", Ns.Session));
    }

    private async Task<TestClient> SecureAsync()
    {
        var c = _server.Connect();
        await c.OpenAsync();
        await c.StartTlsAsync();
        await c.OpenAsync();
        return c;
    }

    private static async Task<string> FailureOfAsync(TestClient c, string xml)
    {
        await c.SendAsync(xml);
        var failure = await c.ExpectAsync("failure", Ns.Sasl);
        return failure.FirstElement()!.Name;
    }

    [Fact]
    public async Task Auth_wrong_password_is_not_authorized_for_scram_and_plain()
    {
        await using var c = await SecureAsync();
        var scram = new Protocol.Sasl.ScramClient(Protocol.Sasl.ScramHash.Sha256, "juliet", "wrong");
        await c.SendAsync($"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{Convert.ToBase64String(scram.CreateClientFirst())}</auth>");
        var challenge = await c.ExpectAsync("challenge", Ns.Sasl);
        await c.SendAsync($"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{Convert.ToBase64String(scram.CreateClientFinal(Convert.FromBase64String(challenge.Text)))}</response>");
        Assert.NotNull((await c.ExpectAsync("failure", Ns.Sasl)).Element("not-authorized", Ns.Sasl));
        Assert.Equal("not-authorized", await FailureOfAsync(c, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{Convert.ToBase64String(Protocol.Sasl.PlainMechanism.Create("juliet", "nope"))}</auth>"));
    }

    [Fact]
    public async Task Auth_unknown_user_fails_only_at_the_proof()
    {
        await using var c = await SecureAsync();
        var scram = new Protocol.Sasl.ScramClient(Protocol.Sasl.ScramHash.Sha256, "nobody", "pw");
        await c.SendAsync($"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{Convert.ToBase64String(scram.CreateClientFirst())}</auth>");
        var challenge = await c.ExpectAsync("challenge", Ns.Sasl); // indistinguishable from a real user
        await c.SendAsync($"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{Convert.ToBase64String(scram.CreateClientFinal(Convert.FromBase64String(challenge.Text)))}</response>");
        Assert.NotNull((await c.ExpectAsync("failure", Ns.Sasl)).Element("not-authorized", Ns.Sasl));
    }

    [Fact]
    public async Task Auth_error_conditions()
    {
        await using var c = await SecureAsync();
        Assert.Equal("invalid-mechanism", await FailureOfAsync(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>"));
        Assert.Equal("incorrect-encoding", await FailureOfAsync(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!not base64!!!</auth>"));
        // The connection allows three failures; start a fresh one for the rest.
        await using var d = await SecureAsync();
        Assert.Equal("malformed-request", await FailureOfAsync(d, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>{Convert.ToBase64String(Encoding.UTF8.GetBytes("x,,n=juliet,r=abc"))}</auth>"));
        Assert.Equal("aborted", await FailureOfAsync(d, "<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"));
        Assert.Equal("invalid-authzid", await FailureOfAsync(d, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{Convert.ToBase64String(Protocol.Sasl.PlainMechanism.Create("juliet", "r0m30myr0m30", "romeo@localhost"))}</auth>"));
    }

    [Fact]
    public async Task Auth_plain_disabled_is_mechanism_too_weak()
    {
        await using var server = await TestServer.StartAsync(o => o.Sasl.AllowPlain = false);
        await server.AddUserAsync("juliet", "pw");
        await using var c = server.Connect();
        await c.OpenAsync();
        await c.StartTlsAsync();
        var features = await c.OpenAsync();
        foreach (var m in features.Element("mechanisms", Ns.Sasl)!.Elements("mechanism")) Assert.NotEqual("PLAIN", m.Text);
        Assert.Equal("mechanism-too-weak", await FailureOfAsync(c, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{Convert.ToBase64String(Protocol.Sasl.PlainMechanism.Create("juliet", "pw"))}</auth>"));
    }

    [Fact]
    public async Task Auth_too_many_failures_is_policy_violation()
    {
        await using var c = await SecureAsync();
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal("not-authorized", await FailureOfAsync(c, $"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{Convert.ToBase64String(Protocol.Sasl.PlainMechanism.Create("juliet", "bad" + i))}</auth>"));
        }
        await c.SendAsync($"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{Convert.ToBase64String(Protocol.Sasl.PlainMechanism.Create("juliet", "bad"))}</auth>");
        await c.ExpectAsync("failure", Ns.Sasl);
        await c.ExpectStreamErrorAsync("policy-violation");
    }

    [Fact]
    public async Task Auth_scram_without_initial_response_gets_empty_challenge()
    {
        await using var c = await SecureAsync();
        await c.SendAsync("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'/>");
        var empty = await c.ExpectAsync("challenge", Ns.Sasl);
        Assert.Equal("", empty.Text);
        var scram = new Protocol.Sasl.ScramClient(Protocol.Sasl.ScramHash.Sha1, "romeo", "juliet4ever");
        await c.SendAsync($"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{Convert.ToBase64String(scram.CreateClientFirst())}</response>");
        var challenge = await c.ExpectAsync("challenge", Ns.Sasl);
        await c.SendAsync($"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{Convert.ToBase64String(scram.CreateClientFinal(Convert.FromBase64String(challenge.Text)))}</response>");
        var success = await c.ExpectAsync("success", Ns.Sasl);
        Assert.True(scram.VerifyServerFinal(Convert.FromBase64String(success.Text)));
    }

    [Fact]
    public async Task Auth_stanza_before_authentication_is_not_authorized()
    {
        await using var c = await SecureAsync();
        await c.SendAsync("<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>");
        await c.ExpectStreamErrorAsync("not-authorized");
    }

    // ---- BindState --------------------------------------------------------------------------------------------

    [Fact]
    public async Task Bind_server_generates_a_resource()
    {
        await using var c = _server.Connect();
        var jid = await c.LoginAsync("juliet", "r0m30myr0m30", presence: false);
        Assert.StartsWith("juliet@localhost/", jid, StringComparison.Ordinal);
        Assert.True(jid.Length > "juliet@localhost/".Length + 8);
    }

    [Fact]
    public async Task Bind_requested_resource_is_used()
    {
        await using var c = _server.Connect();
        Assert.Equal("juliet@localhost/balcony", await c.LoginAsync("juliet", "r0m30myr0m30", "balcony", presence: false));
    }

    [Fact]
    public async Task Bind_same_resource_replaces_old_session_with_conflict()
    {
        await using var first = _server.Connect();
        await first.LoginAsync("juliet", "r0m30myr0m30", "balcony");
        await using var second = _server.Connect();
        await second.LoginAsync("juliet", "r0m30myr0m30", "balcony", presence: false);
        await first.ExpectStreamErrorAsync("conflict");
        Assert.Equal(1, _server.Server.Sessions.Count);
        Assert.Same(_server.Server.Sessions.Find(Jid.Parse("juliet@localhost/balcony"))!.Stream, _server.Server.Sessions.FindAll(Jid.Parse("juliet@localhost"))[0].Stream);
    }

    [Fact]
    public async Task Bind_invalid_resource_is_bad_request()
    {
        await using var c = _server.Connect();
        await c.AuthenticateAsync("juliet", "r0m30myr0m30");
        await c.SendAsync("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bad\u0001</resource></bind></iq>");
        // \u0001 is not even legal XML: the whole stream is refused.
        await c.ExpectStreamErrorAsync("not-well-formed");
    }

    [Fact]
    public async Task Bind_resource_violating_resourcepart_rules_is_bad_request()
    {
        await using var c = _server.Connect();
        await c.AuthenticateAsync("juliet", "r0m30myr0m30");
        // U+200E (a format character) is legal XML but not allowed in a resourcepart (RFC 7622 §3.4).
        await c.SendAsync("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>a&#x200E;b</resource></bind></iq>");
        var error = await c.ExpectAsync("iq");
        Assert.Equal("error", error.GetAttribute("type"));
        Assert.NotNull(error.Element("error")!.Element("bad-request", Ns.Stanzas));
        Assert.Equal(0, _server.Server.Sessions.Count);
    }

    [Fact]
    public async Task Bind_get_instead_of_set_is_bad_request()
    {
        await using var c = _server.Connect();
        await c.AuthenticateAsync("juliet", "r0m30myr0m30");
        await c.SendAsync("<iq type='get' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
        var error = await c.ExpectAsync("iq");
        Assert.Equal("error", error.GetAttribute("type"));
        Assert.NotNull(error.Element("error")!.Element("bad-request", Ns.Stanzas));
    }

    [Fact]
    public async Task Bind_stanza_before_bind_is_not_authorized()
    {
        await using var c = _server.Connect();
        await c.AuthenticateAsync("juliet", "r0m30myr0m30");
        await c.SendAsync("<message to='romeo@localhost'><body>too early</body></message>");
        await c.ExpectStreamErrorAsync("not-authorized");
    }

    [Fact]
    public async Task Ready_legacy_session_iq_is_answered()
    {
        await using var c = _server.Connect();
        await c.LoginAsync("juliet", "r0m30myr0m30", presence: false);
        await c.SendAsync("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
        var result = await c.ExpectAsync("iq");
        Assert.Equal("result", result.GetAttribute("type"));
        Assert.Equal("s1", result.GetAttribute("id"));
    }

    // ---- Timeouts ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task Negotiation_that_never_finishes_is_connection_timeout()
    {
        await using var c = _server.Connect();
        await c.OpenAsync();
        // The stream joins the heartbeat before it reads anything, so it is registered once its header was answered.
        Assert.NotEqual(0, _server.Server.Heartbeat.Count);
        _server.AdvanceAndTick(TimeSpan.FromSeconds(31));
        await c.ExpectStreamErrorAsync("connection-timeout");
    }

    /// <summary>
    /// A client that starts TLS late (25 s into the 30 s of negotiation) and then stalls the handshake: at the
    /// negotiation timeout it cannot be sent a stream error mid-handshake, so closing it cuts it. Before, it was marked
    /// closing, could write nothing and was never closed (the TLS deadline is not checked for a closing stream), holding
    /// its descriptor for good — found by the hostile-input suite (issue 19).
    /// </summary>
    [Fact]
    public async Task A_tls_handshake_stalled_past_the_negotiation_timeout_is_cut()
    {
        await using var c = _server.Connect();
        await c.OpenAsync();
        _server.Time!.Advance(TimeSpan.FromSeconds(25));
        await c.SendAsync("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        await c.ExpectAsync("proceed", Ns.Tls);
        _server.AdvanceAndTick(TimeSpan.FromSeconds(6)); // negotiation (30 s) passed, handshake (10 s) not yet
        _server.AdvanceAndTick(TimeSpan.FromSeconds(6)); // and now both
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (_server.Server.Heartbeat.Count != 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(0, _server.Server.Heartbeat.Count);
    }

    [Fact]
    public async Task Client_closing_the_stream_gets_the_closing_tag_and_session_ends()
    {
        await using var c = _server.Connect();
        await c.LoginAsync("juliet", "r0m30myr0m30", "balcony");
        Assert.Equal(1, _server.Server.Sessions.Count);
        await c.SendAsync("</stream:stream>");
        var ev = await c.NextEventAsync();
        Assert.Equal(XmlStreamEventKind.StreamEnd, ev!.Value.Kind);
        Assert.Null(await c.NextEventAsync());
        for (var i = 0; i < 200 && _server.Server.Sessions.Count > 0; i++) await Task.Delay(10);
        Assert.Equal(0, _server.Server.Sessions.Count);
    }
}

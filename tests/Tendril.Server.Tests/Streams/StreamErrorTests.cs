using System.Text;
using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Streams;

/// <summary>Bad input gets the RFC 6120 §4.9 stream error, and nobody else notices.</summary>
public sealed class StreamErrorTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private TestClient _bystander = null!;
    private TestClient _peer = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(o => o.Limits.MaxStanzaBytes = 16 * 1024);
        await _server.AddUserAsync("juliet", "pw1");
        await _server.AddUserAsync("romeo", "pw2");
        await _server.AddUserAsync("mallory", "pw3");
        _bystander = _server.Connect();
        await _bystander.LoginAsync("juliet", "pw1", "home");
        _peer = _server.Connect();
        await _peer.LoginAsync("romeo", "pw2", "home");
    }

    public async Task DisposeAsync()
    {
        await _bystander.DisposeAsync();
        await _peer.DisposeAsync();
        await _server.DisposeAsync();
    }

    /// <summary>After the misbehaving connection is gone, two other sessions still exchange messages.</summary>
    private async Task AssertOthersUnaffectedAsync()
    {
        await _bystander.SendAsync("<message to='romeo@localhost/home' type='chat' id='m1'><body>still here?</body></message>");
        var m = await _peer.WaitForAsync(e => e.Name == "message");
        Assert.Equal("still here?", m.Element("body")!.Text);
        Assert.Equal("juliet@localhost/home", m.GetAttribute("from"));
    }

    private async Task<TestClient> LoggedInMalloryAsync()
    {
        var c = _server.Connect();
        await c.LoginAsync("mallory", "pw3", "evil");
        return c;
    }

    [Theory]
    [InlineData("<message><body>mismatched</message></message>", "not-well-formed")]
    [InlineData("<message><body>unclosed</message>", "not-well-formed")]
    [InlineData("<message to='a'b'/>", "not-well-formed")]
    [InlineData("<message to='a' b/>", "not-well-formed")]
    [InlineData("<message to='a' to='b'/>", "not-well-formed")]
    [InlineData("<p:message xmlns:q='x'/>", "not-well-formed")]
    [InlineData("<!-- comment -->", "restricted-xml")]
    [InlineData("<?pi data?>", "restricted-xml")]
    [InlineData("<!DOCTYPE foo [<!ENTITY x 'y'>]>", "restricted-xml")]
    [InlineData("<message><body>&lol;</body></message>", "restricted-xml")]
    [InlineData("<foo xmlns='urn:unknown'/>", "unsupported-stanza-type")]
    public async Task Bad_xml_after_login_gets_stream_error(string xml, string condition)
    {
        await using var c = await LoggedInMalloryAsync();
        await c.SendAsync(xml);
        await c.ExpectStreamErrorAsync(condition);
        await AssertOthersUnaffectedAsync();
    }

    [Fact]
    public async Task Bad_xml_before_negotiation_gets_header_then_error()
    {
        await using var c = _server.Connect();
        await c.SendAsync("<<<garbage");
        await c.ExpectStreamErrorAsync("not-well-formed");
        await AssertOthersUnaffectedAsync();
    }

    [Fact]
    public async Task Oversized_stanza_is_policy_violation_even_without_closing_bracket()
    {
        await using var c = await LoggedInMalloryAsync();
        var huge = "<message to='juliet@localhost'><body>" + new string('x', 20 * 1024);
        await c.SendAsync(Encoding.UTF8.GetBytes(huge), 4096);
        await c.ExpectStreamErrorAsync("policy-violation");
        await AssertOthersUnaffectedAsync();
    }

    [Fact]
    public async Task Too_deep_nesting_is_policy_violation()
    {
        await using var c = await LoggedInMalloryAsync();
        var sb = new StringBuilder("<message>");
        for (var i = 0; i < 100; i++) sb.Append("<a>");
        await c.SendAsync(sb.ToString());
        await c.ExpectStreamErrorAsync("policy-violation");
        await AssertOthersUnaffectedAsync();
    }

    [Fact]
    public async Task Invalid_utf8_is_unsupported_encoding()
    {
        await using var c = await LoggedInMalloryAsync();
        await c.SendAsync([.. "<message><body>"u8, 0xC3, 0x28, .. "</body></message>"u8]);
        await c.ExpectStreamErrorAsync("unsupported-encoding");
        await AssertOthersUnaffectedAsync();
    }

    [Fact]
    public async Task Forged_from_is_invalid_from()
    {
        await using var c = await LoggedInMalloryAsync();
        await c.SendAsync("<message from='juliet@localhost/home' to='romeo@localhost/home'><body>it is me, juliet</body></message>");
        await c.ExpectStreamErrorAsync("invalid-from");
        await AssertOthersUnaffectedAsync();
    }

    [Fact]
    public async Task Peer_vanishing_mid_stanza_ends_only_its_session()
    {
        var c = await LoggedInMalloryAsync();
        await c.SendAsync("<message to='juliet@localhost/home'><body>half a sta");
        await c.DisposeAsync();
        for (var i = 0; i < 200 && _server.Server.Sessions.Count > 2; i++) await Task.Delay(10);
        Assert.Equal(2, _server.Server.Sessions.Count);
        await AssertOthersUnaffectedAsync();
    }

    [Fact]
    public async Task Whitespace_keepalives_between_stanzas_are_ignored()
    {
        await using var c = await LoggedInMalloryAsync();
        await c.SendAsync("  \n\t <iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>\n ");
        var result = await c.ExpectAsync("iq");
        Assert.Equal("result", result.GetAttribute("type"));
    }

    [Fact]
    public async Task Shutdown_sends_system_shutdown_to_everyone()
    {
        await _server.Server.StopAsync(TimeSpan.FromSeconds(5));
        await _bystander.ExpectStreamErrorAsync("system-shutdown");
        await _peer.ExpectStreamErrorAsync("system-shutdown");
    }
}

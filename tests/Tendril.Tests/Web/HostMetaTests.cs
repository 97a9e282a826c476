using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Web;

/// <summary>XEP-0156 host-meta, and the secure-only default of the WebSocket endpoint (docs/web.md#security).</summary>
public sealed class HostMetaTests
{
    [Fact]
    public async Task Host_meta_advertises_the_websocket_url_and_plain_http_websocket_is_refused_by_default()
    {
        await using var server = await TendrilProcess.StartAsync([]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };
        var expected = $"ws://127.0.0.1:{server.HttpPort}/xmpp-websocket";

        var xrd = await http.GetAsync("/.well-known/host-meta");
        Assert.Equal(HttpStatusCode.OK, xrd.StatusCode);
        Assert.Equal("application/xrd+xml", xrd.Content.Headers.ContentType!.MediaType);
        var xml = System.Xml.Linq.XDocument.Parse(await xrd.Content.ReadAsStringAsync());
        System.Xml.Linq.XNamespace ns = "http://docs.oasis-open.org/ns/xri/xrd-1.0";
        var link = Assert.Single(xml.Root!.Elements(ns + "Link"), l => (string?)l.Attribute("rel") == "urn:xmpp:alt-connections:websocket");
        Assert.Equal(expected, (string?)link.Attribute("href"));
        var bosh = Assert.Single(xml.Root!.Elements(ns + "Link"), l => (string?)l.Attribute("rel") == "urn:xmpp:alt-connections:xbosh");
        Assert.Equal($"http://127.0.0.1:{server.HttpPort}/http-bind", (string?)bosh.Attribute("href"));

        using var json = JsonDocument.Parse(await http.GetStringAsync("/.well-known/host-meta.json"));
        Assert.Contains(json.RootElement.GetProperty("links").EnumerateArray(),
            l => l.GetProperty("rel").GetString() == "urn:xmpp:alt-connections:websocket" && l.GetProperty("href").GetString() == expected);

        // RequireTls is on and TrustLoopback off: a plain ws:// connection cannot authenticate, so it is refused.
        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("xmpp");
        ws.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => ws.ConnectAsync(WebSocketTests.Url(server), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Forbidden, ws.HttpStatusCode);
    }
}

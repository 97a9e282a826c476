using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Web;

/// <summary>XEP-0156 host-meta, and the secure-only default of the WebSocket endpoint (docs/web.md#security).</summary>
public sealed class HostMetaTests
{
    private static readonly System.Xml.Linq.XNamespace Xrd = "http://docs.oasis-open.org/ns/xri/xrd-1.0";

    /// <summary>The websocket and BOSH hrefs of the XRD and of the JRD (which must agree).</summary>
    private static async Task<(string? WebSocket, string? Bosh)> LinksAsync(HttpClient http)
    {
        var xrd = await http.GetAsync("/.well-known/host-meta");
        Assert.Equal(HttpStatusCode.OK, xrd.StatusCode);
        Assert.Equal("application/xrd+xml", xrd.Content.Headers.ContentType!.MediaType);
        var xml = System.Xml.Linq.XDocument.Parse(await xrd.Content.ReadAsStringAsync());
        string? Href(string rel) => (string?)xml.Root!.Elements(Xrd + "Link").SingleOrDefault(l => (string?)l.Attribute("rel") == rel)?.Attribute("href");
        var links = (Href("urn:xmpp:alt-connections:websocket"), Href("urn:xmpp:alt-connections:xbosh"));

        using var json = JsonDocument.Parse(await http.GetStringAsync("/.well-known/host-meta.json"));
        string? JsonHref(string rel) => json.RootElement.GetProperty("links").EnumerateArray()
            .Where(l => l.GetProperty("rel").GetString() == rel).Select(l => l.GetProperty("href").GetString()).SingleOrDefault();
        Assert.Equal(links, (JsonHref("urn:xmpp:alt-connections:websocket"), JsonHref("urn:xmpp:alt-connections:xbosh")));
        return links;
    }

    private static HttpClient Https(TendrilProcess server) => new(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true })
    {
        BaseAddress = server.HttpsBase,
    };

    [Fact]
    public async Task Host_meta_on_plain_http_advertises_the_https_endpoints_when_plain_http_is_refused()
    {
        await using var server = await TendrilProcess.StartAsync([]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };

        // RequireTls is on and TrustLoopback off: ws:// and http:// BOSH would be refused, so host-meta names wss/https.
        var wss = $"wss://127.0.0.1:{server.HttpsPort}/xmpp-websocket";
        Assert.Equal((wss, $"https://127.0.0.1:{server.HttpsPort}/http-bind"), await LinksAsync(http));
        using var https = Https(server);
        Assert.Equal((wss, $"https://127.0.0.1:{server.HttpsPort}/http-bind"), await LinksAsync(https));

        // What it names is usable: the advertised wss:// URL is accepted...
        using (var ws = new ClientWebSocket())
        {
            ws.Options.AddSubProtocol("xmpp");
            ws.Options.RemoteCertificateValidationCallback = (_, _, _, _) => true; // self-signed
            await ws.ConnectAsync(new Uri(wss), CancellationToken.None);
            Assert.Equal("xmpp", ws.SubProtocol);
        }
        // ...and the plain ws:// one it no longer names is refused.
        using var plain = new ClientWebSocket();
        plain.Options.AddSubProtocol("xmpp");
        plain.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => plain.ConnectAsync(WebSocketTests.Url(server), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Forbidden, plain.HttpStatusCode);
    }

    [Fact]
    public async Task Host_meta_advertises_the_plain_endpoints_only_where_they_are_accepted()
    {
        // RequireTls off: plain ws:// is accepted (as an insecure stream), so it is what plain-HTTP host-meta names.
        await using (var server = await TendrilProcess.StartAsync([], s => ((Dictionary<string, object>)s["C2s"])["RequireTls"] = false))
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };
            Assert.Equal(($"ws://127.0.0.1:{server.HttpPort}/xmpp-websocket", $"http://127.0.0.1:{server.HttpPort}/http-bind"), await LinksAsync(http));
        }

        // RequireTls on and no HTTPS listener: nothing a client could use, so nothing is named.
        await using (var server = await TendrilProcess.StartAsync([], s => ((Dictionary<string, object>)s["Http"])["HttpsEnabled"] = false))
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };
            Assert.Equal(((string?)null, (string?)null), await LinksAsync(http));
        }
    }
}

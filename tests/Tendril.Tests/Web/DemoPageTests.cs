using System.Net;
using System.Text.RegularExpressions;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Web;

/// <summary>
/// The demo page (docs/web.md, "Demo web client") as a new user meets it (issue 21): opened over plain HTTP that the
/// web transports refuse, it says why and links to HTTPS; everything it loads is this server's.
/// </summary>
public sealed partial class DemoPageTests
{
    private static Task<TendrilProcess> StartAsync(Action<Dictionary<string, object>>? more = null) => TendrilProcess.StartAsync([], section =>
    {
        section["Demo"] = new Dictionary<string, object> { ["Enabled"] = true };
        more?.Invoke(section);
    });

    private static HttpClient Https(TendrilProcess server) => new(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true })
    {
        BaseAddress = server.HttpsBase,
    };

    [Fact]
    public async Task Over_plain_http_with_require_tls_the_page_explains_and_links_to_https()
    {
        await using var server = await StartAsync();
        using var http = new HttpClient { BaseAddress = server.HttpBase };
        var response = await http.GetAsync("/demo/?transport=bosh");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("Tendril:C2s:RequireTls", page, StringComparison.Ordinal);
        Assert.Contains($"href='https://127.0.0.1:{server.HttpsPort}/demo/?transport=bosh'", page, StringComparison.Ordinal);
        Assert.DoesNotContain("demo.js", page, StringComparison.Ordinal); // not the web client that could not log in
        Assert.DoesNotContain("demo.js", await http.GetStringAsync("/demo/index.html"), StringComparison.Ordinal);

        // Over HTTPS: the web client.
        using var https = Https(server);
        Assert.Contains("demo.js", await https.GetStringAsync("/demo/?transport=bosh"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_an_https_listener_the_page_says_how_to_get_one()
    {
        await using var server = await StartAsync(section => ((Dictionary<string, object>)section["Http"])["HttpsEnabled"] = false);
        using var http = new HttpClient { BaseAddress = server.HttpBase };
        var page = await http.GetStringAsync("/demo/");
        Assert.Contains("Tendril:Http:HttpsEnabled", page, StringComparison.Ordinal);
        Assert.Contains("Tendril:Http:TrustLoopback", page, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Everything_the_page_references_is_same_origin_and_the_wasm_is_where_converse_asks()
    {
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "demo", "converse", "curve25519_compiled.wasm")),
            "converse.js is required in the build output (./test.sh runs npm ci in src/Tendril/demo before building).");
        await using var server = await StartAsync(section => ((Dictionary<string, object>)section["Http"])["TrustLoopback"] = true);
        using var http = new HttpClient { BaseAddress = server.HttpBase };

        var response = await http.GetAsync("/demo/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Images, media and fonts may only come from here (converse's sponsor logos live on conversejs.org).
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("img-src 'self' data: blob:", csp, StringComparison.Ordinal);
        var page = await response.Content.ReadAsStringAsync();
        var script = await http.GetStringAsync("/demo/demo.js");
        var references = new List<string>();
        foreach (Match m in Reference().Matches(page + "\n" + script)) references.Add(m.Groups["url"].Value);
        Assert.Contains("demo.js", references);
        Assert.Contains("./converse/converse.min.js", references);
        foreach (var reference in references)
        {
            var url = new Uri(server.HttpBase, new Uri("/demo/", UriKind.Relative)).ToString();
            var resolved = new Uri(new Uri(url), reference);
            Assert.True(resolved.Scheme == "data" || resolved.GetLeftPart(UriPartial.Authority) == server.HttpBase.GetLeftPart(UriPartial.Authority),
                $"{reference} is not this server's");
            if (resolved.Scheme != "data") Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(resolved)).StatusCode);
        }
        // The footer (sponsor logos) is replaced before converse defines it.
        Assert.Contains("customElements.define('converse-footer'", page, StringComparison.Ordinal);

        // converse asks for its OMEMO wasm next to the page: served from converse/.
        var wasm = await http.GetAsync("/demo/curve25519_compiled.wasm");
        Assert.Equal(HttpStatusCode.OK, wasm.StatusCode);
        Assert.Equal("application/wasm", wasm.Content.Headers.ContentType!.MediaType);
        Assert.Equal(await http.GetByteArrayAsync("/demo/converse/curve25519_compiled.wasm"), await wasm.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/demo/no-such-file.wasm")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/demo/..%2Ftendril.dll")).StatusCode);
    }

    // src='…', href='…' (not an anchor's link target: the page has none) and ES module imports.
    [GeneratedRegex("""(?:(?:src|href)=["'](?<url>[^"']+)["'])|(?:import\s+(?:[^'"]+\s+from\s+)?['"](?<url>[^'"]+)['"])""")]
    private static partial Regex Reference();
}

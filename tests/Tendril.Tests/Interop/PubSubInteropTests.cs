using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>
/// Pubsub against the real process: python3-slixmpp's xep_0060 plugin creates a node, three clients subscribe and
/// receive an XMPP publish and an HTTP publish (curl's path: Basic auth to the HTTP port), and a subscriber that logs
/// in later gets the last item. The HTTP API's errors are checked on the same process.
/// </summary>
public sealed class PubSubInteropTests
{
    private const string Password = "s3cret-pw";
    private static string Script => Path.Combine(AppContext.BaseDirectory, "Interop", "slixmpp_pubsub.py");
    private static readonly string[] Users = ["juliet", "romeo", "nurse", "tybalt", "benvolio"];

    [Fact]
    public async Task Slixmpp_subscribers_receive_xmpp_and_http_publishes_and_a_late_login_gets_the_last_item()
    {
        Assert.True(File.Exists("/usr/bin/python3"), "Debian's python3 is required (test.sh installs python3-slixmpp).");
        await using var server = await TendrilProcess.StartAsync(Users.Select(u => (u + "@localhost", Password)));
        using var http = Client(server, "juliet", Password);

        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Script, "127.0.0.1", server.C2sPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "pubsub.localhost", Password }) psi.ArgumentList.Add(a);
        using var python = Process.Start(psi)!;
        var stderr = python.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            string? line;
            while ((line = await python.StandardOutput.ReadLineAsync(cts.Token)) is not null)
            {
                lines.Add(line);
                if (line != "READY") continue;
                // The HTTP publish, as curl would send it.
                using var content = new StringContent("<entry xmlns='urn:example:news'>from http</entry>", Encoding.UTF8, "application/xml");
                var response = await http.PostAsync("/api/pubsub/pubsub.localhost/news?id=h1", content, cts.Token);
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
                using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cts.Token));
                Assert.Equal("h1", body.RootElement.GetProperty("id").GetString());
            }
            await python.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            python.Kill(entireProcessTree: true);
            Assert.Fail($"slixmpp timed out:\n{string.Join('\n', lines)}\n{await stderr}\n--- server log ---\n{server.Log}");
        }
        Assert.True(python.ExitCode == 0, $"slixmpp failed ({python.ExitCode}):\n{string.Join('\n', lines)}\n{await stderr}\n--- server log ---\n{server.Log}");

        using var result = JsonDocument.Parse(lines[^1]);
        foreach (var user in new[] { "romeo", "nurse", "tybalt" })
        {
            var items = result.RootElement.GetProperty(user).EnumerateArray().ToList();
            Assert.Contains(items, i => i.GetProperty("id").GetString() == "x1" && i.GetProperty("text").GetString() == "from xmpp" && i.GetProperty("from").GetString() == "pubsub.localhost");
            Assert.Contains(items, i => i.GetProperty("id").GetString() == "h1" && i.GetProperty("text").GetString() == "from http");
        }
        var late = result.RootElement.GetProperty("benvolio").EnumerateArray().ToList();
        var last = Assert.Single(late);
        Assert.Equal("h1", last.GetProperty("id").GetString());
        Assert.True(last.GetProperty("delayed").GetBoolean());

        // The node and its items over HTTP.
        var nodes = JsonDocument.Parse(await http.GetStringAsync("/api/pubsub/pubsub.localhost"));
        Assert.Contains(nodes.RootElement.GetProperty("nodes").EnumerateArray(), n => n.GetProperty("node").GetString() == "news" && n.GetProperty("subscribers").GetInt32() == 4);
        var read = JsonDocument.Parse(await http.GetStringAsync("/api/pubsub/pubsub.localhost/news/items?max=1"));
        var item = Assert.Single(read.RootElement.GetProperty("items").EnumerateArray());
        Assert.Equal("h1", item.GetProperty("id").GetString());
        Assert.Contains("from http", item.GetProperty("payload").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_api_answers_bad_input_with_clear_4xx()
    {
        await using var server = await TendrilProcess.StartAsync([("juliet@localhost", Password), ("romeo@localhost", Password)]);
        using var juliet = Client(server, "juliet", Password);
        using var romeo = Client(server, "romeo@localhost", Password);
        using var anonymous = server.HttpsClient();
        using var wrong = Client(server, "juliet", "nope");

        var noAuth = await anonymous.PostAsync("/api/pubsub/pubsub.localhost/x", new StringContent("<a/>"));
        Assert.Equal(HttpStatusCode.Unauthorized, noAuth.StatusCode);
        Assert.Equal("Basic", noAuth.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/api/pubsub/pubsub.localhost")).StatusCode);
        // A password over plain HTTP is refused before it is looked at, with where to send it instead (issue 19).
        using (var plain = new HttpClient { BaseAddress = server.HttpBase })
        {
            plain.DefaultRequestHeaders.Authorization = juliet.DefaultRequestHeaders.Authorization;
            var refused = await plain.GetAsync("/api/pubsub/pubsub.localhost");
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("https://", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await juliet.PostAsync("/api/pubsub/pubsub.localhost/missing", Xml("<a xmlns='urn:x'/>"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await juliet.GetAsync("/api/pubsub/nope.localhost")).StatusCode);

        // The HTTP API does not create nodes: juliet creates one over XMPP (slixmpp) first.
        var (code, stdout, stderr) = await TendrilProcess.RunAsync("/usr/bin/python3", TimeSpan.FromSeconds(60), "-c", $$"""
            import asyncio, ssl, slixmpp
            c = slixmpp.ClientXMPP('juliet@localhost/c', '{{Password}}')
            c.ssl_context.check_hostname = False; c.ssl_context.verify_mode = ssl.CERT_NONE
            c.register_plugin('xep_0060')
            done = asyncio.get_event_loop().create_future()
            async def start(_):
                await c['xep_0060'].create_node('pubsub.localhost', 'alerts')
                form = c['xep_0004'].make_form('submit')
                form.add_field('FORM_TYPE', value='http://jabber.org/protocol/pubsub#node_config', ftype='hidden')
                form.add_field('pubsub#access_model', value='whitelist')
                await c['xep_0060'].create_node('pubsub.localhost', 'secret', config=form)
                c.disconnect(); done.set_result(True)
            c.add_event_handler('session_start', start)
            c.connect(('127.0.0.1', {{server.C2sPort}}), force_starttls=True)
            asyncio.get_event_loop().run_until_complete(asyncio.wait_for(done, 20))
            """);
        Assert.True(code == 0, stdout + stderr);

        // A whitelist node is listed to its owner only: romeo does not learn it exists (XEP-0060 §4.5, issue 19).
        static string[] Listed(string json) => JsonDocument.Parse(json).RootElement.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("node").GetString()!).ToArray();
        Assert.Equal(["alerts", "secret"], Listed(await juliet.GetStringAsync("/api/pubsub/pubsub.localhost")));
        Assert.Equal(["alerts"], Listed(await romeo.GetStringAsync("/api/pubsub/pubsub.localhost")));
        Assert.False((await romeo.GetAsync("/api/pubsub/pubsub.localhost/secret/items")).IsSuccessStatusCode);

        Assert.Equal(HttpStatusCode.BadRequest, (await juliet.PostAsync("/api/pubsub/pubsub.localhost/alerts", Xml("<a><b></a>"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await juliet.PostAsync("/api/pubsub/pubsub.localhost/alerts", Xml("<a/><b/>"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await juliet.PostAsync("/api/pubsub/pubsub.localhost/alerts", new StringContent("{\"nope\":1}", Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await juliet.GetAsync("/api/pubsub/pubsub.localhost/alerts/items?max=0")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await romeo.PostAsync("/api/pubsub/pubsub.localhost/alerts", Xml("<a xmlns='urn:x'/>"))).StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await juliet.PostAsync("/api/pubsub/pubsub.localhost/alerts", Xml($"<a xmlns='urn:x'>{new string('x', 70_000)}</a>"))).StatusCode);

        var ok = await juliet.PostAsync("/api/pubsub/pubsub.localhost/alerts", new StringContent("{\"payload\": \"<alert xmlns='urn:x'>disk full</alert>\"}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        var id = JsonDocument.Parse(await ok.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
        Assert.False(string.IsNullOrEmpty(id));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/pubsub/pubsub.localhost/alerts/items");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/xml"));
        var xml = await (await juliet.SendAsync(request)).Content.ReadAsStringAsync();
        Assert.Contains($"<item id=\"{id}\"><alert xmlns=\"urn:x\">disk full</alert></item>", xml, StringComparison.Ordinal);
    }

    private static StringContent Xml(string xml) => new(xml, Encoding.UTF8, "application/xml");

    private static HttpClient Client(TendrilProcess server, string user, string password) => server.HttpsClient(user, password);
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Tendril.Client;
using Tendril.Protocol.Errors;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Operations;

/// <summary>The JSON admin API against the real process, as curl would use it (HTTP Basic with an admin's XMPP password).</summary>
public sealed class AdminApiTests
{
    private static async Task<TendrilProcess> StartAsync(Action<Dictionary<string, object>>? more = null) =>
        await TendrilProcess.StartAsync([("admin@localhost", "admin-pw"), ("juliet@localhost", "pw-juliet")], section =>
        {
            section["Admin"] = new Dictionary<string, object> { ["Users"] = new[] { "admin@localhost" } };
            more?.Invoke(section);
        });

    /// <summary>Over HTTPS, as passwords must go (issue 19).</summary>
    private static HttpClient Client(TendrilProcess server, string? user, string? password) => server.HttpsClient(user, password);

    [Fact]
    public async Task Credentials_are_required_and_only_admins_get_in()
    {
        await using var server = await StartAsync();
        using var anonymous = Client(server, null, null);
        var response = await anonymous.GetAsync("admin/api/users");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Basic", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);

        using var wrong = Client(server, "admin@localhost", "nope");
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("admin/api/users")).StatusCode);

        // A right password of an account that is not an administrator gets the answer a wrong one gets (no oracle).
        using var user = Client(server, "juliet@localhost", "pw-juliet");
        Assert.Equal(HttpStatusCode.Unauthorized, (await user.GetAsync("admin/api/users")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await user.PostAsJsonAsync("admin/api/users", new { user = "x", password = "y" })).StatusCode);

        using var admin = Client(server, "admin", "admin-pw"); // the username alone is the account on this domain
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("admin/api/stats")).StatusCode);

        // The pubsub feature runs by default: its nodes are a section of the page and API.
        Assert.Contains("\"pubsub\"", await admin.GetStringAsync("admin/api/sections"), StringComparison.Ordinal);
        Assert.Contains("\"columns\"", await admin.GetStringAsync("admin/api/sections/pubsub"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("admin/api/sections/nope")).StatusCode);

        // The page: a redirect to the login form without credentials.
        using var browser = server.HttpsClient(redirects: false);
        var page = await browser.GetAsync("admin");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("/admin/login", page.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Users_are_listed_added_deleted_and_get_a_new_password()
    {
        await using var server = await StartAsync();
        using var admin = Client(server, "admin@localhost", "admin-pw");

        var users = await admin.GetFromJsonAsync<string[]>("admin/api/users");
        Assert.Equal(["admin@localhost", "juliet@localhost"], users!);

        var created = await admin.PostAsJsonAsync("admin/api/users", new { user = "romeo@localhost", password = "first-pw" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsJsonAsync("admin/api/users", new { user = "romeo", password = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync("admin/api/users", new { user = "romeo@elsewhere.org", password = "x" })).StatusCode);
        Assert.Contains("romeo@localhost", (await admin.GetFromJsonAsync<string[]>("admin/api/users"))!);
        await using (var romeo = await server.ConnectAsync("romeo@localhost", "first-pw")) Assert.True(romeo.IsConnected);

        var reset = await admin.PutAsJsonAsync("admin/api/users/romeo@localhost/password", new { password = "second-pw" });
        Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
        await Assert.ThrowsAsync<XmppAuthenticationException>(() => server.ConnectAsync("romeo@localhost", "first-pw"));
        await using (var romeo = await server.ConnectAsync("romeo@localhost", "second-pw")) Assert.True(romeo.IsConnected);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PutAsJsonAsync("admin/api/users/nobody/password", new { password = "x" })).StatusCode);

        var romeoOnline = await server.ConnectAsync("romeo@localhost", "second-pw");
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("admin/api/users/romeo@localhost")).StatusCode);
        var error = await Assert.ThrowsAsync<XmppStreamException>(() => romeoOnline.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(StreamErrorCondition.PolicyViolation, error.Condition);
        await romeoOnline.DisposeAsync();
        Assert.DoesNotContain("romeo@localhost", (await admin.GetFromJsonAsync<string[]>("admin/api/users"))!);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("admin/api/users/romeo@localhost")).StatusCode);
        await Assert.ThrowsAsync<XmppAuthenticationException>(() => server.ConnectAsync("romeo@localhost", "second-pw"));
    }

    [Fact]
    public async Task Sessions_are_listed_and_a_kicked_client_gets_policy_violation()
    {
        await using var server = await StartAsync();
        using var admin = Client(server, "admin@localhost", "admin-pw");
        await using var juliet = await server.ConnectAsync("juliet@localhost", "pw-juliet", "balcony");
        await using var juliet2 = await server.ConnectAsync("juliet@localhost", "pw-juliet", "tower");

        using var sessions = JsonDocument.Parse(await admin.GetStringAsync("admin/api/sessions"));
        var jids = sessions.RootElement.EnumerateArray().Select(s => s.GetProperty("jid").GetString()).ToList();
        Assert.Equal(["juliet@localhost/balcony", "juliet@localhost/tower"], jids);
        var first = sessions.RootElement[0];
        Assert.Equal("tcp", first.GetProperty("transport").GetString());
        Assert.True(first.GetProperty("secure").GetBoolean());

        using var stats = JsonDocument.Parse(await admin.GetStringAsync("admin/api/stats"));
        Assert.Equal(2, stats.RootElement.GetProperty("sessions").GetInt32());
        Assert.Equal(2, stats.RootElement.GetProperty("connectionsByTransport").GetProperty("tcp").GetInt32());

        var kick = await admin.PostAsJsonAsync("admin/api/sessions/kick", new { jid = "juliet@localhost/balcony" });
        Assert.Equal(HttpStatusCode.OK, kick.StatusCode);
        var error = await Assert.ThrowsAsync<XmppStreamException>(() => juliet.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(StreamErrorCondition.PolicyViolation, error.Condition);
        Assert.Equal("Disconnected by an administrator.", error.Text);
        Assert.True(juliet2.IsConnected);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsJsonAsync("admin/api/sessions/kick", new { jid = "juliet@localhost/balcony" })).StatusCode);

        // The kick is logged at Information; a refused reload is a recent error.
        server.Section["Limits"] = new Dictionary<string, object> { ["MaxStanzaBytes"] = 5 };
        await server.WriteConfigAsync();
        var reload = await admin.PostAsync("admin/api/reload", JsonContent.Create(new { }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reload.StatusCode);
        using var errors = JsonDocument.Parse(await admin.GetStringAsync("admin/api/errors"));
        Assert.Contains(errors.RootElement.EnumerateArray(), e => e.GetProperty("message").GetString()!.Contains("MaxStanzaBytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Group_chat_rooms_are_listed_and_an_admin_destroys_one()
    {
        await using var server = await StartAsync();
        using var admin = Client(server, "admin@localhost", "admin-pw");
        await using var juliet = await server.ConnectAsync("juliet@localhost", "pw-juliet", "balcony");
        var wait = TimeSpan.FromSeconds(10);
        var enter = new Tendril.Xml.XmlElement("presence", "jabber:client").SetAttribute("to", "hall@conference.localhost/Juliet");
        enter.AddElement("x", "http://jabber.org/protocol/muc");
        await juliet.SendAsync(enter);
        await juliet.WaitForAsync(e => e.Name == "message" && e.Element("subject") is not null, wait);
        var instant = new Tendril.Xml.XmlElement("iq", "jabber:client").SetAttribute("type", "set").SetAttribute("to", "hall@conference.localhost");
        instant.AddElement("query", "http://jabber.org/protocol/muc#owner").AddElement("x", "jabber:x:data").SetAttribute("type", "submit");
        Assert.Equal("result", (await juliet.SendIqAsync(instant, wait)).GetAttribute("type"));

        using var table = JsonDocument.Parse(await admin.GetStringAsync("admin/api/sections/muc"));
        var row = table.RootElement.GetProperty("rows").EnumerateArray().Single();
        Assert.Equal("hall@conference.localhost", row[0].GetString());
        Assert.Equal("1", row[2].GetString());

        var destroyed = await admin.PostAsJsonAsync("admin/api/sections/muc/destroy", new { row = "hall@conference.localhost" });
        Assert.Equal(HttpStatusCode.OK, destroyed.StatusCode);
        var gone = await juliet.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("type") == "unavailable", wait);
        Assert.Contains("administrator", gone.Element("x", "http://jabber.org/protocol/muc#user")!.Element("destroy")!.Element("reason")!.Text, StringComparison.Ordinal);
        using var after = JsonDocument.Parse(await admin.GetStringAsync("admin/api/sections/muc"));
        Assert.Empty(after.RootElement.GetProperty("rows").EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsJsonAsync("admin/api/sections/muc/destroy", new { row = "hall@conference.localhost" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsJsonAsync("admin/api/sections/muc/explode", new { row = "x" })).StatusCode);
    }

    [Fact]
    public async Task Cookie_sessions_need_the_csrf_token_for_changes()
    {
        await using var server = await StartAsync();
        var cookies = new CookieContainer();
        using var browser = server.HttpsClient(redirects: false, cookies: cookies);
        var login = await browser.PostAsync("admin/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["user"] = "admin@localhost", ["password"] = "admin-pw" }));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("admin/api/users")).StatusCode);

        // A forged cross-site form post carries the cookie but not the token.
        var forged = await browser.PostAsync("admin/users/add", new FormUrlEncodedContent(new Dictionary<string, string> { ["user"] = "mallory", ["password"] = "x" }));
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.PostAsJsonAsync("admin/api/users", new { user = "mallory", password = "x" })).StatusCode);

        var page = await browser.GetStringAsync("admin");
        var marker = "name=csrf value=\"";
        var at = page.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        var token = page[at..page.IndexOf('"', at)];
        var added = await browser.PostAsync("admin/users/add", new FormUrlEncodedContent(new Dictionary<string, string> { ["user"] = "mallory", ["password"] = "x", ["csrf"] = token }));
        Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
        Assert.Contains("Created", Uri.UnescapeDataString(added.Headers.Location!.ToString()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_configuration_view_shows_whether_a_secret_is_set_but_never_the_secret()
    {
        // Clustering off: the Redis password is only configuration here, as an operator preparing a cluster leaves it.
        await using var server = await StartAsync(section => section["Cluster"] = new Dictionary<string, object> { ["Enabled"] = false, ["RedisPassword"] = "hunter2-redis" });
        using var admin = Client(server, "admin@localhost", "admin-pw");
        var config = await admin.GetStringAsync("admin/api/config");
        Assert.DoesNotContain("hunter2-redis", config, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(config);
        Assert.Equal("(set)", json.RootElement.GetProperty("Cluster").GetProperty("redisPassword").GetString());
        Assert.Equal("localhost", json.RootElement.GetProperty("Domain").GetString());
    }

    [Fact]
    public async Task Changes_need_json_or_the_csrf_header_and_a_cross_site_request_is_refused()
    {
        await using var server = await StartAsync();
        using var admin = Client(server, "admin@localhost", "admin-pw");
        // What a cross-site HTML form can send (issue 19: enctype=text/plain made an account): refused, nothing created.
        using (var form = new StringContent("{\"user\":\"mallory\",\"password\":\"x\"}", Encoding.UTF8, "text/plain"))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await admin.PostAsync("admin/api/users", form)).StatusCode);
        }
        using (var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["jid"] = "juliet@localhost" }))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await admin.PostAsync("admin/api/sessions/kick", form)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await admin.PostAsync("admin/api/reload", null)).StatusCode);
        // A browser's cross-site request, even as JSON with credentials it kept: refused by its Fetch metadata or Origin.
        foreach (var (header, value) in new[] { ("Sec-Fetch-Site", "cross-site"), ("Origin", "https://evil.example") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "admin/api/users") { Content = JsonContent.Create(new { user = "mallory", password = "x" }) };
            request.Headers.Add(header, value);
            var refused = await admin.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("Cross-site", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.DoesNotContain("mallory@localhost", (await admin.GetFromJsonAsync<string[]>("admin/api/users"))!);
        // A browser is not challenged for Basic credentials (it would keep and replay them); a program is.
        using (var browser = server.HttpsClient())
        using (var request = new HttpRequestMessage(HttpMethod.Get, "admin/api/users"))
        {
            request.Headers.Add("Sec-Fetch-Site", "none");
            var response = await browser.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Empty(response.Headers.WwwAuthenticate);
        }
        // JSON, or the header with another body type, goes through.
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("admin/api/users", new { user = "romeo", password = "pw" })).StatusCode);
        using (var request = new HttpRequestMessage(HttpMethod.Post, "admin/api/reload"))
        {
            request.Headers.Add("X-CSRF-Token", "curl");
            Assert.Equal(HttpStatusCode.OK, (await admin.SendAsync(request)).StatusCode);
        }
    }

    [Fact]
    public async Task Passwords_over_plain_http_are_refused_and_a_signed_out_cookie_is_dead()
    {
        await using var server = await StartAsync();
        using var plain = new HttpClient { BaseAddress = server.HttpBase };
        plain.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin@localhost:admin-pw")));
        var refused = await plain.GetAsync("admin/api/stats");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("https://", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using (var anonymous = new HttpClient { BaseAddress = server.HttpBase })
        {
            var form = await anonymous.GetStringAsync("admin/login");
            Assert.DoesNotContain("type=password", form, StringComparison.Ordinal);
            Assert.Contains("only over HTTPS", form, StringComparison.Ordinal);
            var posted = await anonymous.PostAsync("admin/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["user"] = "admin", ["password"] = "admin-pw" }));
            Assert.Equal(HttpStatusCode.Forbidden, posted.StatusCode);
            Assert.False(posted.Headers.Contains("Set-Cookie"));
        }

        // Over HTTPS: sign in, copy the cookie (as a thief would), sign out: the copy no longer works.
        var cookies = new CookieContainer();
        using var browser = server.HttpsClient(redirects: false, cookies: cookies);
        var login = await browser.PostAsync("admin/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["user"] = "admin", ["password"] = "admin-pw" }));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var cookie = cookies.GetCookies(new Uri(server.HttpsBase, "admin/"))["tendril-admin"]!;
        var stolen = cookie.Value;
        Assert.True(cookie.Secure);
        var page = await browser.GetStringAsync("admin");
        var marker = "name=csrf value=\"";
        var at = page.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        var token = page[at..page.IndexOf('"', at)];
        Assert.Equal(HttpStatusCode.Redirect, (await browser.PostAsync("admin/logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["csrf"] = token }))).StatusCode);
        using var thief = server.HttpsClient();
        using var replay = new HttpRequestMessage(HttpMethod.Get, "admin/api/stats");
        replay.Headers.Add("Sec-Fetch-Site", "same-origin");
        replay.Headers.Add("Cookie", "tendril-admin=" + stolen);
        Assert.Equal(HttpStatusCode.Unauthorized, (await thief.SendAsync(replay)).StatusCode);
    }

    [Fact]
    public async Task Failed_logins_from_one_address_are_slowed_then_banned_on_every_surface_and_others_still_get_in()
    {
        // Loopback counts here as a remote address would (by default it is exempt: a proxy on the host).
        await using var server = await StartAsync(section =>
        {
            section["Limits"] = new Dictionary<string, object> { ["LimitLoopbackPerAddress"] = true };
            section["Sasl"] = new Dictionary<string, object> { ["FailuresBeforeDelay"] = 2, ["FailuresBeforeBan"] = 6, ["BanMinutes"] = 5 };
        });
        using var wrong = Client(server, "admin@localhost", "guess");
        // Failures on the admin API, the pubsub API and XMPP all count for 127.0.0.1.
        for (var i = 0; i < 2; i++) Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("admin/api/stats")).StatusCode);
        using (var pubsub = Client(server, "juliet@localhost", "guess"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await pubsub.GetAsync("api/pubsub/pubsub.localhost")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await pubsub.GetAsync("api/pubsub/pubsub.localhost")).StatusCode);
        }
        await Assert.ThrowsAsync<XmppAuthenticationException>(() => server.ConnectAsync("juliet@localhost", "guess"));
        // The sixth failure bans the address: the right password is refused now, without being checked.
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("admin/api/stats")).StatusCode);
        using var right = Client(server, "admin@localhost", "admin-pw");
        var banned = await right.GetAsync("admin/api/stats");
        Assert.Equal((HttpStatusCode)429, banned.StatusCode);
        Assert.True(banned.Headers.RetryAfter!.Delta > TimeSpan.FromMinutes(4));
        var xmpp = await Assert.ThrowsAsync<XmppStreamException>(() => server.ConnectAsync("juliet@localhost", "pw-juliet"));
        Assert.Equal(StreamErrorCondition.PolicyViolation, xmpp.Condition);
        Assert.Contains("failed logins", xmpp.Text, StringComparison.Ordinal);
        // Another address is not held back: the admin signs in from 127.0.0.2 at once (the guesses were not theirs).
        var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
        };
        using (var elsewhere = new HttpClient(handler) { BaseAddress = server.HttpsBase })
        {
            elsewhere.DefaultRequestHeaders.Authorization = right.DefaultRequestHeaders.Authorization;
            Assert.Equal(HttpStatusCode.OK, (await elsewhere.GetAsync("admin/api/stats")).StatusCode);
        }
        // Metrics show it.
        Assert.Contains("condition=\"banned\"", await server.HttpsClient().GetStringAsync("metrics"), StringComparison.Ordinal);
    }
}

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
    private static async Task<TendrilProcess> StartAsync() =>
        await TendrilProcess.StartAsync([("admin@localhost", "admin-pw"), ("juliet@localhost", "pw-juliet")],
            section => section["Admin"] = new Dictionary<string, object> { ["Users"] = new[] { "admin@localhost" } });

    private static HttpClient Client(TendrilProcess server, string? user, string? password)
    {
        var http = new HttpClient { BaseAddress = server.HttpBase };
        if (user is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        }
        return http;
    }

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

        using var user = Client(server, "juliet@localhost", "pw-juliet");
        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync("admin/api/users")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.PostAsJsonAsync("admin/api/users", new { user = "x", password = "y" })).StatusCode);

        using var admin = Client(server, "admin", "admin-pw"); // the username alone is the account on this domain
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("admin/api/stats")).StatusCode);

        // The pubsub feature runs by default: its nodes are a section of the page and API.
        Assert.Contains("\"pubsub\"", await admin.GetStringAsync("admin/api/sections"), StringComparison.Ordinal);
        Assert.Contains("\"columns\"", await admin.GetStringAsync("admin/api/sections/pubsub"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("admin/api/sections/nope")).StatusCode);

        // The page: a redirect to the login form without credentials.
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.HttpBase };
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
        var reload = await admin.PostAsync("admin/api/reload", null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reload.StatusCode);
        using var errors = JsonDocument.Parse(await admin.GetStringAsync("admin/api/errors"));
        Assert.Contains(errors.RootElement.EnumerateArray(), e => e.GetProperty("message").GetString()!.Contains("MaxStanzaBytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Cookie_sessions_need_the_csrf_token_for_changes()
    {
        await using var server = await StartAsync();
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = server.HttpBase };
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
}

using Tendril.Server.Configuration;
using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Registration;

/// <summary>In-band registration (XEP-0077) over in-memory connections.</summary>
public sealed class InBandRegistrationTests
{
    private const string Register = "jabber:iq:register";
    private const string FeatureNs = "http://jabber.org/features/iq-register";

    private static Task<TestServer> StartAsync(bool enabled = true, int perHour = 5) =>
        TestServer.StartAsync(o =>
        {
            o.Registration.Enabled = enabled;
            o.Registration.MaxPerIpPerHour = perHour;
            o.Sasl.ScramIterations = 4096;
        });

    /// <summary>Opens a stream, STARTTLS, opens again: the pre-auth features over TLS.</summary>
    private static async Task<(TestClient Client, XmlElement Features)> SecureAsync(TestServer server)
    {
        var c = server.Connect();
        await c.OpenAsync();
        await c.StartTlsAsync();
        return (c, await c.OpenAsync());
    }

    private static async Task<XmlElement> IqAsync(TestClient c, string type, string payload, string id = "r1")
    {
        await c.SendAsync($"<iq type='{type}' id='{id}'>{payload}</iq>");
        var reply = await c.ExpectAsync("iq");
        Assert.Equal(id, reply.GetAttribute("id"));
        return reply;
    }

    private static string ErrorOf(XmlElement reply)
    {
        Assert.Equal("error", reply.GetAttribute("type"));
        return reply.Element("error", Ns.Client)!.FirstElement()!.Name;
    }

    private static string Creds(string user, string password) =>
        $"<query xmlns='{Register}'><username>{user}</username><password>{password}</password></query>";

    [Fact]
    public async Task Feature_is_advertised_only_when_enabled_and_only_over_tls()
    {
        await using (var server = await StartAsync(enabled: true))
        {
            await using var clear = server.Connect();
            var features = await clear.OpenAsync();
            Assert.Null(features.Element("register", FeatureNs));
            var (c, secure) = await SecureAsync(server);
            await using (c) Assert.NotNull(secure.Element("register", FeatureNs));
        }
        await using (var server = await StartAsync(enabled: false))
        {
            var (c, secure) = await SecureAsync(server);
            await using (c) Assert.Null(secure.Element("register", FeatureNs));
        }
    }

    [Fact]
    public async Task Form_then_register_then_login_with_scram_sha1_and_sha256()
    {
        await using var server = await StartAsync();
        var (c, _) = await SecureAsync(server);
        await using (c)
        {
            var form = await IqAsync(c, "get", $"<query xmlns='{Register}'/>");
            Assert.Equal("result", form.GetAttribute("type"));
            var query = form.Element("query", Register)!;
            Assert.NotNull(query.Element("username", Register));
            Assert.NotNull(query.Element("password", Register));
            Assert.NotNull(query.Element("instructions", Register));
            Assert.Null(query.Element("registered", Register));

            var result = await IqAsync(c, "set", Creds("newbie", "s3cret-pass"), "r2");
            Assert.Equal("result", result.GetAttribute("type"));
        }
        var account = await server.Storage.Accounts.FindAsync("localhost", "newbie");
        Assert.NotNull(account);
        Assert.Equal(4096, account.Sha256.Iterations);
        await using var a = server.Connect();
        Assert.Equal("newbie@localhost/r", (await a.LoginAsync("newbie", "s3cret-pass", "r")));
        await using var b = server.Connect();
        Assert.NotNull((await b.AuthenticateAsync("newbie", "s3cret-pass", "SCRAM-SHA-1")).Element("bind", Ns.Bind));
    }

    [Fact]
    public async Task Existing_username_is_conflict()
    {
        await using var server = await StartAsync();
        await server.AddUserAsync("juliet", "r0m30");
        var (c, _) = await SecureAsync(server);
        await using (c)
        {
            Assert.Equal("conflict", ErrorOf(await IqAsync(c, "set", Creds("juliet", "other"))));
            // The stream stays usable: the original password still logs in elsewhere.
        }
        await using var j = server.Connect();
        await j.LoginAsync("juliet", "r0m30");
    }

    [Fact]
    public async Task Missing_fields_are_not_acceptable()
    {
        await using var server = await StartAsync();
        var (c, _) = await SecureAsync(server);
        await using (c)
        {
            Assert.Equal("not-acceptable", ErrorOf(await IqAsync(c, "set", $"<query xmlns='{Register}'><username>x</username></query>", "a")));
            Assert.Equal("not-acceptable", ErrorOf(await IqAsync(c, "set", $"<query xmlns='{Register}'><password>p</password></query>", "b")));
            Assert.Equal("not-acceptable", ErrorOf(await IqAsync(c, "set", $"<query xmlns='{Register}'><username>x</username><password/></query>", "c")));
        }
        Assert.Empty(await server.Storage.Accounts.ListAsync("localhost"));
    }

    [Fact]
    public async Task Disabled_registration_is_service_unavailable_and_creates_nothing()
    {
        await using var server = await StartAsync(enabled: false);
        var (c, _) = await SecureAsync(server);
        await using (c)
        {
            Assert.Equal("service-unavailable", ErrorOf(await IqAsync(c, "get", $"<query xmlns='{Register}'/>", "a")));
            Assert.Equal("service-unavailable", ErrorOf(await IqAsync(c, "set", Creds("mallory", "pw"), "b")));
        }
        Assert.Null(await server.Storage.Accounts.FindAsync("localhost", "mallory"));
    }

    [Fact]
    public async Task Register_iq_without_tls_is_not_authorized_stream_error()
    {
        await using var server = await TestServer.StartAsync(o => { o.Registration.Enabled = true; o.C2s.RequireTls = false; });
        await using var c = server.Connect();
        var features = await c.OpenAsync();
        Assert.Null(features.Element("register", FeatureNs));
        await c.SendAsync($"<iq type='set' id='x'>{Creds("eve", "pw")}</iq>");
        await c.ExpectStreamErrorAsync("not-authorized");
        Assert.Null(await server.Storage.Accounts.FindAsync("localhost", "eve"));
    }

    [Fact]
    public async Task Other_stanzas_before_auth_are_still_not_authorized()
    {
        await using var server = await StartAsync();
        var (c, _) = await SecureAsync(server);
        await using (c)
        {
            await c.SendAsync("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
            await c.ExpectStreamErrorAsync("not-authorized");
        }
    }

    [Fact]
    public async Task Registrations_per_address_are_limited()
    {
        await using var server = await StartAsync(perHour: 2);
        var (c, _) = await SecureAsync(server);
        await using (c)
        {
            Assert.Equal("result", (await IqAsync(c, "set", Creds("u1", "pw"), "a")).GetAttribute("type"));
            Assert.Equal("result", (await IqAsync(c, "set", Creds("u2", "pw"), "b")).GetAttribute("type"));
            Assert.Equal("resource-constraint", ErrorOf(await IqAsync(c, "set", Creds("u3", "pw"), "c")));
            server.Time!.Advance(TimeSpan.FromMinutes(61));
            Assert.Equal("result", (await IqAsync(c, "set", Creds("u3", "pw"), "d")).GetAttribute("type"));
        }
    }

    [Fact]
    public async Task Password_change_then_login_with_new_password_even_when_registration_is_off()
    {
        await using var server = await StartAsync(enabled: false);
        await server.AddUserAsync("romeo", "old-pass");
        await using (var c = server.Connect())
        {
            await c.LoginAsync("romeo", "old-pass", presence: false);
            var form = await IqAsync(c, "get", $"<query xmlns='{Register}'/>", "g");
            Assert.NotNull(form.Element("query", Register)!.Element("registered", Register));
            Assert.Equal("romeo", form.Element("query", Register)!.Element("username", Register)!.Text);
            Assert.Equal("not-authorized", ErrorOf(await IqAsync(c, "set", Creds("juliet", "x"), "o")));
            Assert.Equal("result", (await IqAsync(c, "set", Creds("romeo", "new-pass"), "p")).GetAttribute("type"));
        }
        await using var ok = server.Connect();
        await ok.LoginAsync("romeo", "new-pass");
        await using var old = server.Connect();
        await old.OpenAsync();
        await old.StartTlsAsync();
        await old.OpenAsync();
        var scram = new Protocol.Sasl.ScramClient(Protocol.Sasl.ScramHash.Sha256, "romeo", "old-pass");
        await old.SendAsync($"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{Convert.ToBase64String(scram.CreateClientFirst())}</auth>");
        var challenge = await old.ExpectAsync("challenge", Ns.Sasl);
        await old.SendAsync($"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{Convert.ToBase64String(scram.CreateClientFinal(Convert.FromBase64String(challenge.Text)))}</response>");
        Assert.NotNull((await old.ExpectAsync("failure", Ns.Sasl)).Element("not-authorized", Ns.Sasl));
    }

    [Fact]
    public async Task Cancel_removes_the_account_and_closes_the_stream()
    {
        await using var server = await StartAsync();
        await server.AddUserAsync("mercutio", "pw");
        await using var c = server.Connect();
        await c.LoginAsync("mercutio", "pw", presence: false);
        var result = await IqAsync(c, "set", $"<query xmlns='{Register}'><remove/></query>", "u");
        Assert.Equal("result", result.GetAttribute("type"));
        await c.ExpectStreamErrorAsync("not-authorized");
        Assert.Null(await server.Storage.Accounts.FindAsync("localhost", "mercutio"));
    }

    [Fact]
    public async Task Cancel_is_not_allowed_when_registration_is_off()
    {
        await using var server = await StartAsync(enabled: false);
        await server.AddUserAsync("tybalt", "pw");
        await using var c = server.Connect();
        await c.LoginAsync("tybalt", "pw", presence: false);
        Assert.Equal("not-allowed", ErrorOf(await IqAsync(c, "set", $"<query xmlns='{Register}'><remove/></query>", "u")));
        Assert.NotNull(await server.Storage.Accounts.FindAsync("localhost", "tybalt"));
    }

    [Fact]
    public void Max_per_ip_is_validated()
    {
        var options = new Configuration.TendrilOptions();
        options.Registration.MaxPerIpPerHour = 0;
        Assert.Contains("MaxPerIpPerHour", Assert.Throws<InvalidOperationException>(options.Validate).Message);
    }
}

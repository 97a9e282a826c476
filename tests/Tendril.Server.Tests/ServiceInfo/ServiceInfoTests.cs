using Tendril.Server.Features.ExternalServices;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Tendril.Protocol;
using Tendril.Server.Configuration;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Tests.PubSub;
using Tendril.Xml;

namespace Tendril.Server.Tests.ServiceInfo;

/// <summary>XEP-0157 contact addresses and XEP-0215 external services, from the configuration.</summary>
public sealed class ServiceInfoTests : ImTestBase
{
    private const string E = "urn:xmpp:extdisco:2";

    protected override void Configure(TendrilOptions options)
    {
        options.ContactAddresses.Abuse = ["mailto:abuse@localhost"];
        options.ContactAddresses.Admin = ["xmpp:admin@localhost", "mailto:admin@localhost"];
        options.ExternalServices =
        [
            new ExternalServiceOptions { Type = "stun", Host = "stun.localhost", Port = 3478, Transport = "udp" },
            new ExternalServiceOptions { Type = "turn", Host = "turn.localhost", Port = 3478, Transport = "udp", Name = "Relay", Secret = "s3cret", TtlSeconds = 600 },
            new ExternalServiceOptions { Type = "turns", Host = "turn.localhost", Port = 5349, Transport = "tcp", Username = "u", Password = "p", Restricted = true },
        ];
    }

    [Fact]
    public async Task Stream_features_announce_the_servers_caps_and_the_ver_matches_its_disco_info()
    {
        await using var c = Server.Connect();
        var features = await c.AuthenticateAsync("juliet", "pw");
        var caps = features.Element("c", "http://jabber.org/protocol/caps");
        Assert.NotNull(caps);
        Assert.Equal("sha-1", caps.GetAttribute("hash"));
        var node = caps.GetAttribute("node")!;
        var ver = caps.GetAttribute("ver")!;
        await c.SendAsync("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
        await c.ExpectAsync("iq");

        // XEP-0115 §5.4: what a client verifies — the ver is the hash of the server's disco#info (forms included).
        var info = (await IqAsync(c, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", "localhost")).Element("query", Ns.DiscoInfo)!;
        Assert.NotNull(info.Element("x", "jabber:x:data"));
        Assert.Contains(info.Els("feature"), f => f.GetAttribute("var") == "http://jabber.org/protocol/caps");
        Assert.Equal(ver, Tendril.Server.Features.EntityCapsHash.ComputeVer(info, "sha-1"));

        // §6.2: node#ver is answered with the same information.
        var byNode = await IqAsync(c, "get", $"<query xmlns='http://jabber.org/protocol/disco#info' node='{node}#{ver}'/>", "localhost");
        Assert.Equal("result", byNode.GetAttribute("type"));
        Assert.Equal(node + "#" + ver, byNode.Element("query", Ns.DiscoInfo)!.GetAttribute("node"));
        Assert.Equal(ver, Tendril.Server.Features.EntityCapsHash.ComputeVer(byNode.Element("query", Ns.DiscoInfo)!, "sha-1"));
        var wrong = await IqAsync(c, "get", $"<query xmlns='http://jabber.org/protocol/disco#info' node='{node}#nope'/>", "localhost");
        Assert.NotNull(wrong.Element("error")!.Element("item-not-found", Ns.Stanzas));
    }

    [Fact]
    public async Task Disco_info_carries_the_contact_addresses_form_and_the_extdisco_feature()
    {
        await using var juliet = await LoginAsync("juliet");
        var info = (await IqAsync(juliet, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", "localhost")).Element("query", Ns.DiscoInfo)!;
        var form = info.Element("x", "jabber:x:data")!;
        Assert.Equal("result", form.GetAttribute("type"));
        var fields = new Dictionary<string, List<string>>();
        foreach (var field in form.Elements("field", "jabber:x:data"))
        {
            var values = new List<string>();
            foreach (var v in field.Elements("value", "jabber:x:data")) values.Add(v.Text);
            fields[field.GetAttribute("var")!] = values;
        }
        Assert.Equal(["http://jabber.org/network/serverinfo"], fields["FORM_TYPE"]);
        Assert.Equal(["mailto:abuse@localhost"], fields["abuse-addresses"]);
        Assert.Equal(["xmpp:admin@localhost", "mailto:admin@localhost"], fields["admin-addresses"]);
        Assert.Equal(3, fields.Count);
        Assert.Contains(E, await DiscoFeaturesAsync(juliet));
        // Accounts' disco#info does not carry the server's form.
        var account = (await IqAsync(juliet, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", "juliet@localhost")).Element("query", Ns.DiscoInfo)!;
        Assert.Null(account.Element("x", "jabber:x:data"));
    }

    [Fact]
    public async Task Services_are_listed_with_credentials_and_filtered_by_type()
    {
        await using var juliet = await LoginAsync("juliet");
        var services = (await IqAsync(juliet, "get", "<services xmlns='urn:xmpp:extdisco:2'/>", "localhost")).Element("services", E)!;
        var list = new List<XmlElement>();
        foreach (var s in services.Elements("service", E)) list.Add(s);
        Assert.Equal(["stun", "turn", "turns"], list.Select(s => s.GetAttribute("type")));
        Assert.Equal("3478", list[0].GetAttribute("port"));
        Assert.Equal("udp", list[0].GetAttribute("transport"));
        Assert.Null(list[0].GetAttribute("username"));

        // Temporary TURN credentials from the shared secret.
        var turn = list[1];
        Assert.Equal("Relay", turn.GetAttribute("name"));
        var expires = Server.Time!.GetUtcNow().AddSeconds(600);
        var username = expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + ":juliet@localhost";
        Assert.Equal(username, turn.GetAttribute("username"));
        Assert.Equal(Convert.ToBase64String(HMACSHA1.HashData("s3cret"u8.ToArray(), Encoding.UTF8.GetBytes(username))), turn.GetAttribute("password"));
        Assert.Equal(expires.ToUnixTimeSeconds(), DateTimeOffset.Parse(turn.GetAttribute("expires")!, CultureInfo.InvariantCulture).ToUnixTimeSeconds());

        // Restricted: no credentials in the list.
        Assert.Equal("true", list[2].GetAttribute("restricted"));
        Assert.Null(list[2].GetAttribute("password"));

        var onlyStun = (await IqAsync(juliet, "get", "<services xmlns='urn:xmpp:extdisco:2' type='stun'/>", "localhost")).Element("services", E)!;
        Assert.Equal("stun", onlyStun.GetAttribute("type"));
        var hosts = new List<string>();
        foreach (var s in onlyStun.Elements("service", E)) hosts.Add(s.GetAttribute("host")!);
        Assert.Equal(["stun.localhost"], hosts);
        AssertError(await IqAsync(juliet, "set", "<services xmlns='urn:xmpp:extdisco:2'/>", "localhost"), "bad-request", "modify");
    }

    [Fact]
    public async Task Credentials_are_given_for_a_configured_service_only()
    {
        await using var juliet = await LoginAsync("juliet");
        var creds = await IqAsync(juliet, "get", "<credentials xmlns='urn:xmpp:extdisco:2'><service host='turn.localhost' type='turns'/></credentials>", "localhost");
        var service = creds.Element("credentials", E)!.Element("service", E)!;
        Assert.Equal("u", service.GetAttribute("username"));
        Assert.Equal("p", service.GetAttribute("password"));
        Assert.Equal("5349", service.GetAttribute("port"));
        AssertError(await IqAsync(juliet, "get", "<credentials xmlns='urn:xmpp:extdisco:2'><service host='nowhere' type='turn'/></credentials>", "localhost"), "item-not-found", "cancel");
        AssertError(await IqAsync(juliet, "get", "<credentials xmlns='urn:xmpp:extdisco:2'/>", "localhost"), "bad-request", "modify");
    }

    [Theory]
    [InlineData("contact")]
    [InlineData("no-type")]
    [InlineData("port")]
    [InlineData("transport")]
    [InlineData("both-credentials")]
    public void Validate_refuses_bad_settings(string problem)
    {
        var options = new TendrilOptions();
        var service = new ExternalServiceOptions { Type = "turn", Host = "turn.example.org", Port = 3478 };
        switch (problem)
        {
            case "contact": options.ContactAddresses.Abuse = ["not a uri"]; break;
            case "no-type": service.Type = ""; break;
            case "port": service.Port = 0; break;
            case "transport": service.Transport = "sctp"; break;
            case "both-credentials": service.Secret = "s"; service.Password = "p"; break;
        }
        options.ExternalServices = [service];
        Assert.Throws<InvalidOperationException>(options.Validate);
        var valid = new TendrilOptions { ExternalServices = [new ExternalServiceOptions { Type = "turn", Host = "turn.example.org", Port = 3478 }] };
        valid.Validate();
    }
}

/// <summary>Without configuration nothing is published.</summary>
public sealed class NoServiceInfoTests : ImTestBase
{
    [Fact]
    public async Task Nothing_is_published_when_nothing_is_configured()
    {
        await using var juliet = await LoginAsync("juliet");
        var info = (await IqAsync(juliet, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", "localhost")).Element("query", Ns.DiscoInfo)!;
        Assert.Null(info.Element("x", "jabber:x:data"));
        Assert.DoesNotContain("urn:xmpp:extdisco:2", await DiscoFeaturesAsync(juliet));
        AssertError(await IqAsync(juliet, "get", "<services xmlns='urn:xmpp:extdisco:2'/>", "localhost"), "service-unavailable", "cancel");
    }
}

using Tendril.Server.Features;
using Tendril.Protocol;
using Tendril.Server.Features.Disco;
using Tendril.Server.Features.Pep;
using Tendril.Server.Features.PubSub;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Tests.PubSub;
using Tendril.Xml;

namespace Tendril.Server.Tests.Pep;

/// <summary>Helpers for PEP (XEP-0163): logins announcing entity capabilities (XEP-0115) and presence subscriptions.</summary>
public abstract class PepTestBase : IAsyncLifetime
{
    public const string PS = PubSubNs.PubSub;
    private readonly List<TestClient> _clients = [];
    private int _ids;

    protected TestServer Server { get; private set; } = null!;

    protected PepFeature Pep => Server.Server.ServerFeatures.OfType<PepFeature>().Single();

    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync();
        foreach (var u in new[] { "juliet", "romeo", "nurse" }) await Server.AddUserAsync(u, "pw");
    }

    public async Task DisposeAsync()
    {
        foreach (var c in _clients) await c.DisposeAsync();
        await Server.DisposeAsync();
    }

    /// <summary>
    /// Logs in with initial presence carrying caps whose features include NODE+notify for each node (a real XEP-0115
    /// sha-1 ver, unique to this login, so the server asks); answers the server's disco#info and waits until the
    /// verified ver is cached.
    /// </summary>
    protected async Task<TestClient> LoginAsync(string user, string resource = "r", params string[] notify)
    {
        var c = Server.Connect();
        _clients.Add(c);
        await c.LoginAsync(user, "pw", resource, presence: false);
        var query = CapsQuery(notify);
        var ver = EntityCapsHash.ComputeVer(query, "sha-1")!;
        await c.SendAsync(CapsPresence(ver));
        await AnswerCapsQueryAsync(c, ver, query);
        for (var i = 0; i < 1000 && Pep.Caps.FeaturesOf(ver) is null; i++) await Task.Delay(10);
        Assert.NotNull(Pep.Caps.FeaturesOf(ver));
        return c;
    }

    /// <summary>A client's disco#info: identity client/pc with a unique name (so each login has a ver of its own), NODE+notify features.</summary>
    protected static XmlElement CapsQuery(IEnumerable<string> notify, string? name = null)
    {
        var q = new XmlElement("query", Ns.DiscoInfo);
        q.AddElement("identity").SetAttribute("category", "client").SetAttribute("type", "pc").SetAttribute("name", name ?? Guid.NewGuid().ToString("N"));
        q.AddElement("feature").SetAttribute("var", Ns.DiscoInfo);
        foreach (var n in notify) q.AddElement("feature").SetAttribute("var", n + "+notify");
        return q;
    }

    protected static string CapsPresence(string ver, string hash = "sha-1") =>
        $"<presence><c xmlns='http://jabber.org/protocol/caps' hash='{hash}' node='urn:test:client' ver='{ver}'/></presence>";

    /// <summary>Waits for the server's disco#info query for node#ver and answers it with <paramref name="query"/>.</summary>
    protected static async Task AnswerCapsQueryAsync(TestClient c, string ver, XmlElement query)
    {
        var q = await c.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("type") == "get" && e.Element("query", Ns.DiscoInfo) is not null);
        Assert.Equal("urn:test:client#" + ver, q.Element("query", Ns.DiscoInfo)!.GetAttribute("node"));
        var answer = query.Clone().SetAttribute("node", "urn:test:client#" + ver);
        await c.SendAsync($"<iq type='result' id='{q.GetAttribute("id")}' to='localhost'>{answer}</iq>");
    }

    /// <summary><paramref name="contact"/> subscribes to <paramref name="owner"/>'s presence and is approved.</summary>
    protected static async Task SubscribeToPresenceAsync(TestClient contact, TestClient owner)
    {
        var ownerBare = Jid.Parse(owner.Jid!).Bare.ToString();
        await contact.SendAsync($"<presence to='{ownerBare}' type='subscribe'/>");
        await owner.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("type") == "subscribe");
        await owner.SendAsync($"<presence to='{Jid.Parse(contact.Jid!).Bare}' type='subscribed'/>");
        await contact.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("type") == "subscribed");
    }

    protected async Task<XmlElement> IqAsync(TestClient c, string type, string inner, string? to = null)
    {
        var id = "p" + Interlocked.Increment(ref _ids);
        await c.SendAsync($"<iq type='{type}' id='{id}'{(to is null ? "" : $" to='{to}'")}>{inner}</iq>");
        return await c.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == id);
    }

    protected async Task<XmlElement> OkAsync(TestClient c, string type, string inner, string? to = null)
    {
        var r = await IqAsync(c, type, inner, to);
        Assert.True(r.GetAttribute("type") == "result", $"Expected a result, got {r}");
        return r;
    }

    protected Task<XmlElement> PublishAsync(TestClient c, string node, string payload, string? id = null, string? options = null) =>
        IqAsync(c, "set", $"<pubsub xmlns='{PS}'><publish node='{node}'><item{(id is null ? "" : $" id='{id}'")}>{payload}</item></publish>{(options is null ? "" : $"<publish-options>{Form(PubSubNs.PublishOptions, options)}</publish-options>")}</pubsub>");

    protected static string Form(string formType, string fields) =>
        $"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>{formType}</value></field>{fields}</x>";

    protected static string Field(string var, params string[] values) =>
        $"<field var='{var}'>{string.Concat(values.Select(v => $"<value>{v}</value>"))}</field>";

    /// <summary>The next PEP event from <paramref name="from"/> (a bare JID).</summary>
    protected static async Task<XmlElement> EventAsync(TestClient c, string from)
    {
        var m = await c.WaitForAsync(e => e.Name == "message" && e.Element("event", PubSubNs.Event) is not null);
        Assert.Equal(from, m.GetAttribute("from"));
        Assert.Equal("headline", m.GetAttribute("type"));
        return m;
    }

    protected static async Task AssertNoEventAsync(TestClient c)
    {
        await c.SendAsync("<iq type='get' id='drain' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        var e = await c.WaitForAsync(e => e.Name == "message" || (e.Name == "iq" && e.GetAttribute("id") == "drain"));
        Assert.True(e.Name == "iq", $"Unexpected {e}");
    }

    protected static void AssertError(XmlElement reply, string condition, string? pubsubCondition = null)
    {
        Assert.True(reply.GetAttribute("type") == "error", $"Expected an error, got {reply}");
        var error = reply.Element("error")!;
        Assert.True(error.Element(condition, Ns.Stanzas) is not null, $"Expected <{condition}/>, got {error}");
        if (pubsubCondition is not null) Assert.True(error.Element(pubsubCondition, PubSubNs.Errors) is not null, $"Expected {pubsubCondition}, got {error}");
    }
}

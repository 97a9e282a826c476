using Tendril.Server.Features;
using Tendril.Protocol;
using Tendril.Server.Features.PubSub;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.PubSub;

/// <summary>A server with the pubsub feature and helpers to speak XEP-0060 from <see cref="TestClient"/>s.</summary>
public abstract class PubSubTestBase : IAsyncLifetime
{
    public const string Service = "pubsub.localhost";
    public const string PS = PubSubNs.PubSub;
    public const string Owner = PubSubNs.Owner;
    private int _ids;

    protected TestServer Server { get; private set; } = null!;

    private readonly List<TestClient> _clients = [];

    public virtual async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync();
        foreach (var u in new[] { "juliet", "romeo", "nurse", "tybalt" }) await Server.AddUserAsync(u, "pw");
    }

    public async Task DisposeAsync()
    {
        foreach (var c in _clients) await c.DisposeAsync();
        await Server.DisposeAsync();
    }

    protected async Task<TestClient> LoginAsync(string user, string resource = "r", bool presence = true)
    {
        var c = Server.Connect();
        _clients.Add(c);
        await c.LoginAsync(user, "pw", resource, presence);
        return c;
    }

    /// <summary>Sends an iq and returns the answer with the same id.</summary>
    protected async Task<XmlElement> IqAsync(TestClient c, string type, string inner, string to = Service)
    {
        var id = "q" + Interlocked.Increment(ref _ids);
        await c.SendAsync($"<iq type='{type}' id='{id}' to='{to}'>{inner}</iq>");
        return await c.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == id);
    }

    protected async Task<XmlElement> OkAsync(TestClient c, string type, string inner)
    {
        var r = await IqAsync(c, type, inner);
        Assert.True(r.GetAttribute("type") == "result", $"Expected a result, got {r}");
        Assert.Equal(Service, r.GetAttribute("from"));
        return r;
    }

    /// <summary>Asserts an error with the defined condition and (optionally) the pubsub#errors condition.</summary>
    protected static void AssertError(XmlElement reply, string type, string condition, string? pubsubCondition = null, string? feature = null)
    {
        Assert.True(reply.GetAttribute("type") == "error", $"Expected an error, got {reply}");
        var error = reply.Element("error")!;
        Assert.Equal(type, error.GetAttribute("type"));
        Assert.True(error.Element(condition, Ns.Stanzas) is not null, $"Expected <{condition}/>, got {error}");
        if (pubsubCondition is not null)
        {
            var app = error.Element(pubsubCondition, PubSubNs.Errors);
            Assert.True(app is not null, $"Expected <{pubsubCondition} xmlns='pubsub#errors'/>, got {error}");
            if (feature is not null) Assert.Equal(feature, app.GetAttribute("feature"));
        }
    }

    protected async Task<XmlElement> ErrorAsync(TestClient c, string type, string inner, string errorType, string condition, string? pubsubCondition = null, string? feature = null)
    {
        var r = await IqAsync(c, type, inner);
        AssertError(r, errorType, condition, pubsubCondition, feature);
        return r;
    }

    protected Task CreateAsync(TestClient c, string node, string? config = null) =>
        OkAsync(c, "set", $"<pubsub xmlns='{PS}'><create node='{node}'/>{(config is null ? "" : $"<configure>{Form(PubSubNs.NodeConfig, config)}</configure>")}</pubsub>");

    protected static string Form(string formType, string fields, string type = "submit") =>
        $"<x xmlns='jabber:x:data' type='{type}'><field var='FORM_TYPE' type='hidden'><value>{formType}</value></field>{fields}</x>";

    protected static string Field(string var, params string[] values) =>
        $"<field var='{var}'>{string.Concat(values.Select(v => $"<value>{v}</value>"))}</field>";

    protected Task<XmlElement> SubscribeAsync(TestClient c, string node) =>
        OkAsync(c, "set", $"<pubsub xmlns='{PS}'><subscribe node='{node}' jid='{c.Jid}'/></pubsub>");

    protected async Task<string> PublishAsync(TestClient c, string node, string payload = "<entry xmlns='urn:test'>hi</entry>", string? id = null)
    {
        var r = await OkAsync(c, "set", $"<pubsub xmlns='{PS}'><publish node='{node}'><item{(id is null ? "" : $" id='{id}'")}>{payload}</item></publish></pubsub>");
        return r.Element("pubsub", PS)!.Element("publish")!.Element("item")!.GetAttribute("id")!;
    }

    /// <summary>The next pubsub event message.</summary>
    protected static async Task<XmlElement> EventAsync(TestClient c)
    {
        var m = await c.WaitForAsync(e => e.Name == "message" && e.Element("event", PubSubNs.Event) is not null);
        Assert.Equal(Service, m.GetAttribute("from"));
        return m.Element("event", PubSubNs.Event)!;
    }

    /// <summary>Asserts nothing arrives within a short time (a ping round-trip proves the queue is drained).</summary>
    protected static async Task AssertNoEventAsync(TestClient c)
    {
        await c.SendAsync("<iq type='get' id='drain' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        var e = await c.WaitForAsync(e => e.Name == "message" || (e.Name == "iq" && e.GetAttribute("id") == "drain"));
        Assert.True(e.Name == "iq", $"Unexpected {e}");
    }
}

internal static class XmlTestExtensions
{
    /// <summary>Child elements as a list (the element's own enumerator is a struct, not IEnumerable).</summary>
    public static List<XmlElement> Els(this XmlElement e, string? name = null, string? ns = null)
    {
        var list = new List<XmlElement>();
        foreach (var c in e.Elements(name, ns)) list.Add(c);
        return list;
    }
}

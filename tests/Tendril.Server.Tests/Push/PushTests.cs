using Tendril.Server.Configuration;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Push;

/// <summary>
/// XEP-0357 push notifications. The "app server" is nurse's full JID (a bot connected as a client): it receives the
/// pubsub publish iq the server sends and answers it.
/// </summary>
public sealed class PushTests : ImTestBase
{
    internal const string P = "urn:xmpp:push:0";
    internal const string PubSub = "http://jabber.org/protocol/pubsub";
    internal const string AppServer = "nurse@localhost/app";

    internal static async Task<XmlElement> EnableAsync(TestClient c, string node = "n1", string form = "")
    {
        var iq = await IqAsync(c, "set", $"<enable xmlns='{P}' jid='{AppServer}' node='{node}'>{form}</enable>");
        return iq;
    }

    private Task<IReadOnlyList<KeyValuePair<string, string>>> RegistrationsAsync(string user = "juliet") =>
        Server.Server.Storage.AccountData.ListAsync("localhost", user, "push").AsTask();

    /// <summary>The app server waits for a publish iq and returns it.</summary>
    internal static Task<XmlElement> PushAsync(TestClient app) =>
        app.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("type") == "set" && e.Element("pubsub", PubSub) is not null);

    internal static Dictionary<string, string> Summary(XmlElement iq)
    {
        var item = iq.Element("pubsub", PubSub)!.Element("publish", PubSub)!.Element("item", PubSub)!;
        var x = item.Element("notification", P)!.Element("x", "jabber:x:data")!;
        Assert.Equal("submit", x.GetAttribute("type"));
        var fields = new Dictionary<string, string>();
        foreach (var f in x.Elements("field", "jabber:x:data")) fields[f.GetAttribute("var")!] = f.Element("value", "jabber:x:data")?.Text ?? "";
        return fields;
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Condition not met.");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Disco_advertises_push_on_the_account()
    {
        await using var juliet = await LoginAsync("juliet");
        Assert.Contains(P, await DiscoFeaturesAsync(juliet, "juliet@localhost"));
    }

    [Fact]
    public async Task Enable_and_disable_store_and_remove_registrations()
    {
        await using var juliet = await LoginAsync("juliet");
        Assert.Equal("result", (await EnableAsync(juliet, "n1")).GetAttribute("type"));
        Assert.Equal("result", (await EnableAsync(juliet, "n2")).GetAttribute("type"));
        Assert.Equal(2, (await RegistrationsAsync()).Count);
        var off = await IqAsync(juliet, "set", $"<disable xmlns='{P}' jid='{AppServer}' node='n1'/>");
        Assert.Equal("result", off.GetAttribute("type"));
        Assert.Single(await RegistrationsAsync());
        await EnableAsync(juliet, "n3");
        off = await IqAsync(juliet, "set", $"<disable xmlns='{P}' jid='{AppServer}'/>");
        Assert.Equal("result", off.GetAttribute("type"));
        Assert.Empty(await RegistrationsAsync());
    }

    [Fact]
    public async Task Enable_errors()
    {
        await using var juliet = await LoginAsync("juliet");
        AssertError(await IqAsync(juliet, "set", $"<enable xmlns='{P}' jid='{AppServer}'/>"), "bad-request", "modify");
        AssertError(await IqAsync(juliet, "set", $"<enable xmlns='{P}' node='x'/>"), "bad-request", "modify");
        AssertError(await EnableAsync(juliet, form: "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x>"), "bad-request", "modify");
        AssertError(await IqAsync(juliet, "set", $"<disable xmlns='{P}'/>"), "bad-request", "modify");
        AssertError(await IqAsync(juliet, "get", $"<enable xmlns='{P}' jid='{AppServer}' node='x'/>"), "not-allowed", "cancel");
        Assert.Empty(await RegistrationsAsync());
    }

    [Fact]
    public async Task An_offline_message_is_pushed_to_the_app_server_with_publish_options()
    {
        await using var app = await LoginAsync("nurse", "app", roster: false);
        var juliet = await LoginAsync("juliet");
        var options = "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"
            + "<field var='secret'><value>s3cr3t</value></field></x>";
        Assert.Equal("result", (await EnableAsync(juliet, "dev1", options)).GetAttribute("type"));
        await juliet.DisposeAsync();
        await using var romeo = await LoginAsync("romeo");
        await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='m1'><body>wherefore</body></message>");

        var push = await PushAsync(app);
        Assert.Equal("localhost", push.GetAttribute("from"));
        Assert.Equal("dev1", push.Element("pubsub", PubSub)!.Element("publish", PubSub)!.GetAttribute("node"));
        var summary = Summary(push);
        Assert.Equal("urn:xmpp:push:summary", summary["FORM_TYPE"]);
        Assert.Equal("1", summary["message-count"]);
        Assert.Equal("romeo@localhost/r", summary["last-message-sender"]);
        Assert.False(summary.ContainsKey("last-message-body")); // not configured
        var po = push.Element("pubsub", PubSub)!.Element("publish-options", PubSub)!.Element("x", "jabber:x:data")!;
        var vars = new List<string?>();
        foreach (var f in po.Elements("field", "jabber:x:data")) vars.Add(f.GetAttribute("var"));
        Assert.Contains("secret", vars);
        await app.SendAsync($"<iq type='result' id='{push.GetAttribute("id")}' to='localhost'/>");
        await DrainAsync(app);
        Assert.Single(await RegistrationsAsync()); // a result keeps the registration
    }

    [Fact]
    public async Task A_cancel_error_from_the_app_server_disables_the_registration()
    {
        await using var app = await LoginAsync("nurse", "app", roster: false);
        var juliet = await LoginAsync("juliet");
        await EnableAsync(juliet);
        await juliet.DisposeAsync();
        await using var romeo = await LoginAsync("romeo");
        await romeo.SendAsync("<message to='juliet@localhost' type='chat'><body>hi</body></message>");
        var push = await PushAsync(app);
        await app.SendAsync($"<iq type='error' id='{push.GetAttribute("id")}' to='localhost'><error type='cancel'>"
            + "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
        await WaitUntilAsync(async () => (await RegistrationsAsync()).Count == 0);
    }

    [Fact]
    public async Task A_wait_error_keeps_the_registration()
    {
        await using var app = await LoginAsync("nurse", "app", roster: false);
        var juliet = await LoginAsync("juliet");
        await EnableAsync(juliet);
        await juliet.DisposeAsync();
        await using var romeo = await LoginAsync("romeo");
        await romeo.SendAsync("<message to='juliet@localhost' type='chat'><body>hi</body></message>");
        var push = await PushAsync(app);
        await app.SendAsync($"<iq type='error' id='{push.GetAttribute("id")}' to='localhost'><error type='wait'>"
            + "<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
        await DrainAsync(app);
        Assert.Single(await RegistrationsAsync());
        // The reply is handled off the stanza path: a later push is what proves the registration survived.
        Server.Time!.Advance(TimeSpan.FromSeconds(Server.Server.Options.Push.MinIntervalSeconds + 1));
        await romeo.SendAsync("<message to='juliet@localhost' type='chat'><body>again</body></message>");
        await PushAsync(app);
        Assert.Single(await RegistrationsAsync());
    }

    [Fact]
    public async Task A_message_for_a_hibernating_stream_management_session_is_pushed()
    {
        await using var app = await LoginAsync("nurse", "app", roster: false);
        var juliet = await LoginAsync("juliet", roster: false);
        await EnableAsync(juliet);
        await juliet.SendAsync("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
        await juliet.WaitForAsync(e => e.Name == "enabled");
        await juliet.DisposeAsync(); // dropped without </stream:stream>: the session hibernates
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Server.Server.StreamManagement.HibernatingCount == 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(1, Server.Server.StreamManagement.HibernatingCount);

        await using var romeo = await LoginAsync("romeo", roster: false);
        await romeo.SendAsync("<message to='juliet@localhost/r' type='chat'><body>are you there</body></message>");
        var push = await PushAsync(app);
        var summary = Summary(push);
        Assert.Equal("1", summary["message-count"]);
        Assert.Equal("romeo@localhost/r", summary["last-message-sender"]);
        await app.SendAsync($"<iq type='result' id='{push.GetAttribute("id")}' to='localhost'/>");
    }
}

/// <summary>With <c>Tendril:Push:IncludeBody</c> the summary carries the last message's body.</summary>
public sealed class PushWithBodyTests : ImTestBase
{
    protected override void Configure(Configuration.TendrilOptions options) => options.Push.IncludeBody = true;

    [Fact]
    public async Task Pushes_are_rate_limited_per_registration()
    {
        await using var app = await LoginAsync("nurse", "app", roster: false);
        var juliet = await LoginAsync("juliet");
        await PushTests.EnableAsync(juliet);
        await juliet.DisposeAsync();
        await using var romeo = await LoginAsync("romeo");
        await romeo.SendAsync("<message to='juliet@localhost' type='chat'><body>1</body></message>");
        var push = await PushTests.PushAsync(app);
        await app.SendAsync($"<iq type='result' id='{push.GetAttribute("id")}' to='localhost'/>");
        await romeo.SendAsync("<message to='juliet@localhost' type='chat'><body>2</body></message>");
        await DrainAsync(romeo);
        // Past the interval, the next push must be the first since message 1 and carry message 3's body: so no push
        // went out for message 2 (a push is sent without being awaited, so an absence alone proves nothing).
        Server.Time!.Advance(TimeSpan.FromSeconds(Server.Server.Options.Push.MinIntervalSeconds + 1));
        await romeo.SendAsync("<message to='juliet@localhost' type='chat'><body>3</body></message>");
        Assert.Equal("3", PushTests.Summary(await PushTests.PushAsync(app))["last-message-body"]);
    }

    [Fact]
    public async Task The_body_is_included_when_configured()
    {
        await using var app = await LoginAsync("nurse", "app", roster: false);
        var juliet = await LoginAsync("juliet");
        await PushTests.EnableAsync(juliet);
        await juliet.DisposeAsync();
        await using var romeo = await LoginAsync("romeo");
        await romeo.SendAsync("<message to='juliet@localhost' type='chat'><body>wherefore art thou</body></message>");
        var push = await PushTests.PushAsync(app);
        Assert.Equal("wherefore art thou", PushTests.Summary(push)["last-message-body"]);
        await app.SendAsync($"<iq type='result' id='{push.GetAttribute("id")}' to='localhost'/>");
    }
}

using System.Globalization;
using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Tests.Infrastructure;

/// <summary>
/// A server with juliet, romeo and nurse, and helpers for RFC 6121 tests: logins, roster requests, subscriptions,
/// and <see cref="DrainAsync"/>, which returns everything a client received up to a ping round trip — so a test can
/// assert both what arrived and that nothing else did.
/// </summary>
public abstract class ImTestBase : IAsyncLifetime
{
    private static int s_sync;

    protected TestServer Server { get; private set; } = null!;

    protected virtual void Configure(Configuration.TendrilOptions options)
    {
    }

    /// <summary>Starts the server (a SQLite one; a subclass may pass another storage to <see cref="TestServer.StartAsync"/>).</summary>
    protected virtual Task<TestServer> StartServerAsync() => TestServer.StartAsync(Configure);

    public virtual async Task InitializeAsync()
    {
        Server = await StartServerAsync();
        await Server.AddUserAsync("juliet", "pw");
        await Server.AddUserAsync("romeo", "pw");
        await Server.AddUserAsync("nurse", "pw");
    }

    public virtual async Task DisposeAsync() => await Server.DisposeAsync();

    /// <summary>Logs in; optionally requests the roster (becoming an interested resource) and sends initial presence.</summary>
    protected async Task<TestClient> LoginAsync(string user, string resource = "r", bool roster = true, bool presence = true, int? priority = null, string? status = null, TestServer? server = null)
    {
        var c = (server ?? Server).Connect();
        await c.LoginAsync(user, "pw", resource, presence: false);
        if (roster) await GetRosterAsync(c);
        if (presence)
        {
            var body = (priority is null ? "" : $"<priority>{priority}</priority>") + (status is null ? "" : $"<status>{status}</status>");
            await c.SendAsync($"<presence>{body}</presence>");
            await c.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == c.Jid);
        }
        return c;
    }

    /// <summary>Sends a roster get and returns the result (skipping anything else that arrives first).</summary>
    protected static async Task<XmlElement> GetRosterAsync(TestClient c, string? ver = null)
    {
        var id = NextId();
        var verAttr = ver is null ? "" : $" ver='{ver}'";
        await c.SendAsync($"<iq type='get' id='{id}'><query xmlns='jabber:iq:roster'{verAttr}/></iq>");
        var result = await c.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == id);
        Assert.Equal("result", result.GetAttribute("type"));
        return result;
    }

    /// <summary>Sends an iq set with the given query content and returns the answer.</summary>
    protected static async Task<XmlElement> RosterSetAsync(TestClient c, string items, string? to = null)
    {
        var id = NextId();
        var toAttr = to is null ? "" : $" to='{to}'";
        await c.SendAsync($"<iq type='set' id='{id}'{toAttr}><query xmlns='jabber:iq:roster'>{items}</query></iq>");
        return await c.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == id && e.GetAttribute("type") is "result" or "error");
    }

    /// <summary>Everything <paramref name="c"/> received before the answer to a ping sent now.</summary>
    protected static async Task<List<XmlElement>> DrainAsync(TestClient c)
    {
        var id = "sync-" + NextId();
        await c.SendAsync($"<iq type='get' id='{id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        var list = new List<XmlElement>();
        while (true)
        {
            var e = await c.NextAsync();
            if (e.Name == "iq" && e.GetAttribute("id") == id) return list;
            list.Add(e);
        }
    }

    /// <summary>Sends an iq with the given payload and returns the answer (skipping anything else that arrives first).</summary>
    protected static async Task<XmlElement> IqAsync(TestClient c, string type, string payload, string? to = null)
    {
        var id = NextId();
        var toAttr = to is null ? "" : $" to='{to}'";
        await c.SendAsync($"<iq type='{type}' id='{id}'{toAttr}>{payload}</iq>");
        return await c.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == id && e.GetAttribute("type") is "result" or "error");
    }

    /// <summary>The disco#info feature vars of <paramref name="to"/>.</summary>
    protected static async Task<List<string>> DiscoFeaturesAsync(TestClient c, string to = "localhost")
    {
        var info = await IqAsync(c, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", to);
        var vars = new List<string>();
        foreach (var f in info.Element("query", Ns.DiscoInfo)!.Elements("feature", Ns.DiscoInfo)) vars.Add(f.GetAttribute("var")!);
        return vars;
    }

    /// <summary>Waits (10 s unless told) until server state a test cannot be told about by an event reaches <paramref name="condition"/>.</summary>
    protected static async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Condition not met.");
            await Task.Delay(10);
        }
    }

    protected static string NextId() => "t" + Interlocked.Increment(ref s_sync).ToString(CultureInfo.InvariantCulture);

    protected static IEnumerable<XmlElement> Presences(IEnumerable<XmlElement> received, string? type = null, string? from = null) =>
        received.Where(e => e.Name == "presence" && e.GetAttribute("type") == type && (from is null || e.GetAttribute("from") == from));

    /// <summary>The items of the roster pushes among <paramref name="received"/>.</summary>
    protected static List<XmlElement> Pushes(IEnumerable<XmlElement> received) =>
        received.Where(e => e.Name == "iq" && e.GetAttribute("type") == "set" && e.Element("query", Ns.Roster) is not null)
            .Select(e => e.Element("query", Ns.Roster)!.Element("item", Ns.Roster)!).ToList();

    protected static void AssertItem(XmlElement item, string jid, string subscription, bool ask = false, bool approved = false)
    {
        Assert.Equal(jid, item.GetAttribute("jid"));
        Assert.Equal(subscription, item.GetAttribute("subscription"));
        Assert.Equal(ask ? "subscribe" : null, item.GetAttribute("ask"));
        Assert.Equal(approved ? "true" : null, item.GetAttribute("approved"));
    }

    protected static void AssertError(XmlElement stanza, string condition, string type)
    {
        Assert.Equal("error", stanza.GetAttribute("type"));
        var error = stanza.Element("error")!;
        Assert.Equal(type, error.GetAttribute("type"));
        Assert.NotNull(error.Element(condition, Ns.Stanzas));
    }

    /// <summary>The roster item for <paramref name="jid"/> from a fresh roster get, or null.</summary>
    protected static async Task<XmlElement?> ItemAsync(TestClient c, string jid)
    {
        var roster = await GetRosterAsync(c);
        return Items(roster).FirstOrDefault(i => i.GetAttribute("jid") == jid);
    }

    /// <summary>The items of a roster result or push.</summary>
    protected static List<XmlElement> Items(XmlElement iq)
    {
        var list = new List<XmlElement>();
        var query = iq.Element("query", Ns.Roster);
        if (query is null) return list;
        foreach (var item in query.Elements("item", Ns.Roster)) list.Add(item);
        return list;
    }

    /// <summary>Makes juliet and romeo subscribed both ways (through the protocol) and drains both.</summary>
    protected static async Task MakeBothAsync(TestClient juliet, TestClient romeo)
    {
        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribe'/>");
        await DrainAsync(juliet);
        await romeo.SendAsync("<presence to='juliet@localhost' type='subscribed'/>");
        await romeo.SendAsync("<presence to='juliet@localhost' type='subscribe'/>");
        await DrainAsync(romeo);
        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribed'/>");
        await DrainAsync(juliet);
        await DrainAsync(romeo);
    }
}

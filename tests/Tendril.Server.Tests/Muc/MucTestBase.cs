using Tendril.Protocol;
using Tendril.Server.Features.Muc;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Tests.PubSub;
using Tendril.Xml;

namespace Tendril.Server.Tests.Muc;

/// <summary>A server with the group chat service at conference.localhost and helpers to speak XEP-0045 from <see cref="TestClient"/>s.</summary>
public abstract class MucTestBase : IAsyncLifetime
{
    public const string Service = "conference.localhost";
    private int _ids;
    private readonly List<TestClient> _clients = [];

    // What a wait for one stanza passed over, per client: later waits look there first, so no stanza is lost to a test
    // that waits for an iq answer which the room sends after its broadcasts.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<TestClient, Queue<XmlElement>> _backlog = [];

    private Queue<XmlElement> Backlog(TestClient c) => _backlog.GetOrCreateValue(c);

    /// <summary>The next stanza for <paramref name="c"/>: from what earlier waits passed over, else from the stream.</summary>
    protected async Task<XmlElement> NextAsync(TestClient c) => Backlog(c).TryDequeue(out var e) ? e : await c.NextAsync();

    /// <summary>Waits for a stanza matching <paramref name="match"/>; what arrives before it is kept for later waits.</summary>
    protected async Task<XmlElement> WaitForAsync(TestClient c, Func<XmlElement, bool> match)
    {
        var backlog = Backlog(c);
        var kept = new Queue<XmlElement>();
        XmlElement? found = null;
        while (backlog.TryDequeue(out var e))
        {
            if (found is null && match(e)) found = e;
            else kept.Enqueue(e);
        }
        while (found is null)
        {
            var e = await c.NextAsync();
            if (match(e)) found = e;
            else kept.Enqueue(e);
        }
        foreach (var e in kept) backlog.Enqueue(e);
        return found;
    }

    protected TestServer Server { get; private set; } = null!;

    protected virtual void Configure(Configuration.TendrilOptions options)
    {
    }

    public virtual async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync(Configure);
        foreach (var u in new[] { "juliet", "romeo", "nurse", "tybalt", "mercutio" }) await Server.AddUserAsync(u, "pw");
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var c in _clients) await c.DisposeAsync();
        await Server.DisposeAsync();
    }

    protected async Task<TestClient> LoginAsync(string user, string resource = "r", TestServer? server = null)
    {
        var c = (server ?? Server).Connect();
        _clients.Add(c);
        await c.LoginAsync(user, "pw", resource, presence: true);
        return c;
    }

    protected static string Room(string name) => $"{name}@{Service}";

    /// <summary>
    /// Enters <paramref name="room"/> as <paramref name="nick"/> and returns everything received up to the subject
    /// (which the room always sends last, §7.2.15), or up to the error presence when refused.
    /// </summary>
    protected async Task<List<XmlElement>> EnterAsync(TestClient c, string room, string nick, string inner = "", bool muc = true)
    {
        var occupantJid = $"{Room(room)}/{nick}";
        await c.SendAsync(muc ? $"<presence to='{occupantJid}'><x xmlns='{MucNs.Muc}'>{inner}</x></presence>" : $"<presence to='{occupantJid}'/>");
        var received = new List<XmlElement>();
        while (true)
        {
            var e = await NextAsync(c);
            received.Add(e);
            if (e.Name == "presence" && e.GetAttribute("type") == "error" && e.GetAttribute("from") == occupantJid) return received;
            if (e.Name == "message" && e.Element("subject") is not null && e.Element("body") is null && e.GetAttribute("from")!.StartsWith(Room(room), StringComparison.Ordinal)) return received;
        }
    }

    /// <summary>Creates a room and accepts the instant configuration (§10.1.2), then applies <paramref name="fields"/> if given.</summary>
    protected async Task CreateRoomAsync(TestClient owner, string room, string nick, params (string Var, string Value)[] fields)
    {
        var entered = await EnterAsync(owner, room, nick);
        var self = entered.Single(IsSelfPresence);
        Assert.Contains(MucStatus.Created, StatusCodes(self));
        await OkAsync(owner, "set", $"<query xmlns='{MucNs.Owner}'><x xmlns='jabber:x:data' type='submit'/></query>", Room(room));
        if (fields.Length > 0) await ConfigureAsync(owner, room, fields);
    }

    /// <summary>juliet creates ROOM (an instant room) as Juliet and romeo enters as Romeo; what they got on the way is drained.</summary>
    protected async Task<(TestClient Juliet, TestClient Romeo)> RoomOfTwoAsync(string room)
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, room, "Juliet");
        await EnterAsync(r, room, "Romeo");
        await DrainAsync(j);
        await DrainAsync(r);
        return (j, r);
    }

    /// <summary>As <see cref="RoomOfTwoAsync"/>, and nurse enters as Nurse.</summary>
    protected async Task<(TestClient Juliet, TestClient Romeo, TestClient Nurse)> RoomOfThreeAsync(string room)
    {
        var (j, r) = await RoomOfTwoAsync(room);
        var n = await LoginAsync("nurse");
        await EnterAsync(n, room, "Nurse");
        await DrainAsync(j);
        await DrainAsync(r);
        return (j, r, n);
    }

    protected Task<XmlElement> ConfigureAsync(TestClient owner, string room, params (string Var, string Value)[] fields) =>
        OkAsync(owner, "set", $"<query xmlns='{MucNs.Owner}'>{Form(fields)}</query>", Room(room));

    protected static string Form(params (string Var, string Value)[] fields) =>
        $"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>{MucNs.RoomConfig}</value></field>"
        + string.Concat(fields.Select(f => $"<field var='{f.Var}'><value>{f.Value}</value></field>")) + "</x>";

    protected async Task<XmlElement> IqAsync(TestClient c, string type, string inner, string to)
    {
        var id = "m" + Interlocked.Increment(ref _ids);
        await c.SendAsync($"<iq type='{type}' id='{id}' to='{to}'>{inner}</iq>");
        return await WaitForAsync(c, e => e.Name == "iq" && e.GetAttribute("id") == id);
    }

    protected async Task<XmlElement> OkAsync(TestClient c, string type, string inner, string to)
    {
        var r = await IqAsync(c, type, inner, to);
        Assert.True(r.GetAttribute("type") == "result", $"Expected a result, got {r}");
        return r;
    }

    protected async Task<XmlElement> ErrorAsync(TestClient c, string type, string inner, string to, string errorType, string condition)
    {
        var r = await IqAsync(c, type, inner, to);
        AssertError(r, errorType, condition);
        return r;
    }

    protected static void AssertError(XmlElement reply, string type, string condition)
    {
        Assert.True(reply.GetAttribute("type") == "error", $"Expected an error, got {reply}");
        var error = reply.Element("error")!;
        Assert.Equal(type, error.GetAttribute("type"));
        Assert.True(error.Element(condition, Ns.Stanzas) is not null, $"Expected <{condition}/>, got {error}");
    }

    protected static XmlElement? UserX(XmlElement stanza) => stanza.Element("x", MucNs.User);

    protected static List<int> StatusCodes(XmlElement stanza) =>
        UserX(stanza)?.Els("status").Select(s => int.Parse(s.GetAttribute("code")!, System.Globalization.CultureInfo.InvariantCulture)).ToList() ?? [];

    protected static bool IsSelfPresence(XmlElement e) => e.Name == "presence" && StatusCodes(e).Contains(MucStatus.Self);

    protected static XmlElement Item(XmlElement stanza) => UserX(stanza)!.Element("item")!;

    /// <summary>Everything <paramref name="c"/> received before the answer to a ping of the server sent now.</summary>
    protected async Task<List<XmlElement>> DrainAsync(TestClient c)
    {
        var id = "sync" + Interlocked.Increment(ref _ids);
        await c.SendAsync($"<iq type='get' id='{id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        var list = new List<XmlElement>();
        while (true)
        {
            var e = await NextAsync(c);
            if (e.Name == "iq" && e.GetAttribute("id") == id) return list;
            list.Add(e);
        }
    }

    /// <summary>Waits for a stanza of <paramref name="name"/> from <paramref name="from"/> matching <paramref name="match"/>.</summary>
    protected Task<XmlElement> FromAsync(TestClient c, string name, string from, Func<XmlElement, bool>? match = null) =>
        WaitForAsync(c, e => e.Name == name && e.GetAttribute("from") == from && (match is null || match(e)));
}

using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Mam;

/// <summary>XEP-0313 message archive management with XEP-0059 paging and XEP-0359 stanza ids.</summary>
public sealed class MamTests : ImTestBase
{
    private const string M = "urn:xmpp:mam:2";
    private const string Rsm = "http://jabber.org/protocol/rsm";
    private const string F = "urn:xmpp:forward:0";

    private sealed record Result(string Id, string QueryId, XmlElement Message, string Stamp);

    /// <summary>Runs a query; returns the result messages (in arrival order) and the iq answer.</summary>
    private static async Task<(List<Result> Results, XmlElement Iq)> QueryAsync(TestClient c, string form = "", string rsm = "", bool flip = false, string queryId = "q")
    {
        var x = form.Length == 0 ? "" : $"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>{M}</value></field>{form}</x>";
        var set = rsm.Length == 0 ? "" : $"<set xmlns='{Rsm}'>{rsm}</set>";
        var id = NextId();
        await c.SendAsync($"<iq type='set' id='{id}'><query xmlns='{M}' queryid='{queryId}'>{x}{set}{(flip ? "<flip-page/>" : "")}</query></iq>");
        var results = new List<Result>();
        while (true)
        {
            var e = await c.NextAsync();
            if (e.Name == "iq" && e.GetAttribute("id") == id) return (results, e);
            if (e.Name == "message" && e.Element("result", M) is { } r)
            {
                Assert.Equal(c.Jid![..c.Jid!.IndexOf('/', StringComparison.Ordinal)], e.GetAttribute("from"));
                var fwd = r.Element("forwarded", F)!;
                results.Add(new Result(r.GetAttribute("id")!, r.GetAttribute("queryid")!, fwd.Element("message", Ns.Client)!, fwd.Element("delay", Ns.Delay)!.GetAttribute("stamp")!));
            }
        }
    }

    private static List<string> Bodies(IEnumerable<Result> results) => results.Select(r => r.Message.Element("body", Ns.Client)!.Text).ToList();

    private static XmlElement Fin(XmlElement iq)
    {
        Assert.Equal("result", iq.GetAttribute("type"));
        return iq.Element("fin", M)!;
    }

    private static string? Rsmv(XmlElement fin, string name) => fin.Element("set", Rsm)!.Element(name, Rsm)?.Text;

    private static string With(string jid) => $"<field var='with'><value>{jid}</value></field>";

    /// <summary>romeo sends juliet <paramref name="count"/> messages "m1".."mN", each delivered before the next.</summary>
    private static async Task SendManyAsync(TestClient from, TestClient to, int count, string prefix = "m")
    {
        for (var i = 1; i <= count; i++)
        {
            await from.SendAsync($"<message to='{to.Jid}' type='chat' id='{prefix}{i}'><body>{prefix}{i}</body></message>");
            await to.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == $"{prefix}{i}");
        }
    }

    [Fact]
    public async Task Disco_advertises_mam_and_stanza_ids_on_the_account()
    {
        await using var juliet = await LoginAsync("juliet");
        var features = await DiscoFeaturesAsync(juliet, "juliet@localhost");
        Assert.Contains(M, features);
        Assert.Contains(M + "#extended", features);
        Assert.Contains("urn:xmpp:sid:0", features);
    }

    [Fact]
    public async Task Metadata_names_the_first_and_last_archived_message()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        var empty = await IqAsync(juliet, "get", $"<metadata xmlns='{M}'/>");
        Assert.Equal("result", empty.GetAttribute("type"));
        Assert.Empty(empty.Element("metadata", M)!.Children); // §7: an empty archive has neither start nor end

        await SendManyAsync(romeo, juliet, 3);
        var (results, _) = await QueryAsync(juliet);
        Assert.Equal(3, results.Count);
        var metadata = (await IqAsync(juliet, "get", $"<metadata xmlns='{M}'/>")).Element("metadata", M)!;
        var start = metadata.Element("start", M)!;
        var end = metadata.Element("end", M)!;
        Assert.Equal((results[0].Id, results[0].Stamp), (start.GetAttribute("id"), start.GetAttribute("timestamp")));
        Assert.Equal((results[^1].Id, results[^1].Stamp), (end.GetAttribute("id"), end.GetAttribute("timestamp")));

        AssertError(await IqAsync(juliet, "get", $"<metadata xmlns='{M}'/>", to: "romeo@localhost"), "forbidden", "auth");
        AssertError(await IqAsync(juliet, "set", $"<metadata xmlns='{M}'/>"), "bad-request", "modify");
    }

    [Fact]
    public async Task Both_sides_are_archived_and_the_delivered_copy_carries_the_stanza_id()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        // A forged stanza id claiming to be by juliet's archive is removed; one by someone else is kept.
        await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='x1'><body>Hello</body>"
            + "<stanza-id xmlns='urn:xmpp:sid:0' by='juliet@localhost' id='forged'/><stanza-id xmlns='urn:xmpp:sid:0' by='other.example' id='keep'/></message>");
        var delivered = await juliet.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "x1");
        var sids = new List<XmlElement>();
        foreach (var s in delivered.Elements("stanza-id", "urn:xmpp:sid:0")) sids.Add(s);
        Assert.Equal(2, sids.Count);
        Assert.Contains(sids, s => s.GetAttribute("by") == "other.example" && s.GetAttribute("id") == "keep");
        var ours = Assert.Single(sids, s => s.GetAttribute("by") == "juliet@localhost");
        Assert.NotEqual("forged", ours.GetAttribute("id"));

        var (jr, jiq) = await QueryAsync(juliet);
        var j = Assert.Single(jr);
        Assert.Equal(ours.GetAttribute("id"), j.Id);
        Assert.Equal("q", j.QueryId);
        Assert.Equal("romeo@localhost/r", j.Message.GetAttribute("from"));
        Assert.Equal("Hello", j.Message.Element("body", Ns.Client)!.Text);
        Assert.EndsWith("Z", j.Stamp, StringComparison.Ordinal);
        Assert.Equal("true", Fin(jiq).GetAttribute("complete"));

        var (rr, _) = await QueryAsync(romeo);
        var r = Assert.Single(rr);
        Assert.Equal("juliet@localhost", r.Message.GetAttribute("to"));
        Assert.Equal("x1", r.Message.GetAttribute("id"));
    }

    [Fact]
    public async Task Only_chat_and_normal_messages_with_a_body_and_without_a_no_store_hint_are_archived()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='a'><active xmlns='http://jabber.org/protocol/chatstates'/></message>");
        await romeo.SendAsync("<message to='juliet@localhost' type='headline' id='b'><body>news</body></message>");
        await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='c'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>");
        await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='d'><body>fleeting</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>");
        await romeo.SendAsync("<message to='juliet@localhost' id='e'><body>kept</body></message>");
        var received = await juliet.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "e");
        Assert.NotNull(received.Element("stanza-id", "urn:xmpp:sid:0"));
        var messages = (await DrainAsync(juliet)).Where(e => e.Name == "message");
        Assert.All(messages, m => Assert.Null(m.Element("stanza-id", "urn:xmpp:sid:0")));
        Assert.Equal(["kept"], Bodies((await QueryAsync(juliet)).Results));
        Assert.Equal(["kept"], Bodies((await QueryAsync(romeo)).Results));
    }

    [Fact]
    public async Task Queries_filter_by_with_and_time()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await using var nurse = await LoginAsync("nurse");
        await SendManyAsync(romeo, juliet, 2, "r");
        Server.Time!.Advance(TimeSpan.FromHours(1));
        var middle = Server.Time.GetUtcNow();
        await SendManyAsync(nurse, juliet, 2, "n");
        await juliet.SendAsync("<message to='romeo@localhost' type='chat' id='j1'><body>j1</body></message>");
        await romeo.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "j1");

        Assert.Equal(["r1", "r2", "n1", "n2", "j1"], Bodies((await QueryAsync(juliet)).Results));
        Assert.Equal(["r1", "r2", "j1"], Bodies((await QueryAsync(juliet, With("romeo@localhost"))).Results));
        Assert.Equal(["r1", "r2"], Bodies((await QueryAsync(juliet, With("romeo@localhost/r"))).Results));
        Assert.Equal(["n1", "n2"], Bodies((await QueryAsync(juliet, With("nurse@localhost"))).Results));
        var stamp = middle.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(["n1", "n2", "j1"], Bodies((await QueryAsync(juliet, $"<field var='start'><value>{stamp}</value></field>")).Results));
        Assert.Equal(["r1", "r2"], Bodies((await QueryAsync(juliet, $"<field var='end'><value>{middle.AddSeconds(-1).UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}</value></field>")).Results));
    }

    [Fact]
    public async Task Paging_forwards_backwards_last_page_count_and_flip_page()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await SendManyAsync(romeo, juliet, 7);

        // Forwards: 3 + 3 + 1.
        var (p1, iq1) = await QueryAsync(juliet, rsm: "<max>3</max>");
        Assert.Equal(["m1", "m2", "m3"], Bodies(p1));
        var fin1 = Fin(iq1);
        Assert.Equal("false", fin1.GetAttribute("complete"));
        Assert.Equal(p1[0].Id, Rsmv(fin1, "first"));
        Assert.Equal(p1[2].Id, Rsmv(fin1, "last"));
        Assert.Equal("7", Rsmv(fin1, "count"));
        var (p2, iq2) = await QueryAsync(juliet, rsm: $"<max>3</max><after>{p1[2].Id}</after>");
        Assert.Equal(["m4", "m5", "m6"], Bodies(p2));
        Assert.Equal("false", Fin(iq2).GetAttribute("complete"));
        var (p3, iq3) = await QueryAsync(juliet, rsm: $"<max>3</max><after>{p2[2].Id}</after>");
        Assert.Equal(["m7"], Bodies(p3));
        Assert.Equal("true", Fin(iq3).GetAttribute("complete"));

        // Backwards from the end: the last page, then the one before it, then the first (complete).
        var (l1, liq1) = await QueryAsync(juliet, rsm: "<max>3</max><before/>");
        Assert.Equal(["m5", "m6", "m7"], Bodies(l1));
        Assert.Equal("false", Fin(liq1).GetAttribute("complete"));
        var (l2, _) = await QueryAsync(juliet, rsm: $"<max>3</max><before>{l1[0].Id}</before>");
        Assert.Equal(["m2", "m3", "m4"], Bodies(l2));
        var (l3, liq3) = await QueryAsync(juliet, rsm: $"<max>3</max><before>{l2[0].Id}</before>");
        Assert.Equal(["m1"], Bodies(l3));
        Assert.Equal("true", Fin(liq3).GetAttribute("complete"));

        // Count only.
        var (none, ciq) = await QueryAsync(juliet, rsm: "<max>0</max>");
        Assert.Empty(none);
        Assert.Equal("7", Rsmv(Fin(ciq), "count"));

        // flip-page: the last page, newest first; first/last keep their RSM meaning.
        var (flipped, fiq) = await QueryAsync(juliet, rsm: "<max>3</max><before/>", flip: true);
        Assert.Equal(["m7", "m6", "m5"], Bodies(flipped));
        Assert.Equal(l1[0].Id, Rsmv(Fin(fiq), "first"));

        // #extended: after-id / before-id / ids.
        Assert.Equal(["m3", "m4"], Bodies((await QueryAsync(juliet,
            $"<field var='after-id'><value>{p1[1].Id}</value></field><field var='before-id'><value>{p2[1].Id}</value></field>")).Results));
        Assert.Equal(["m1", "m7"], Bodies((await QueryAsync(juliet,
            $"<field var='ids'><value>{p3[0].Id}</value><value>{p1[0].Id}</value></field>")).Results));
    }

    [Fact]
    public async Task Errors_for_unknown_ids_bad_forms_and_unsupported_fields_and_a_large_max_is_clamped()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await SendManyAsync(romeo, juliet, 3);
        AssertError((await QueryAsync(juliet, rsm: "<after>nope</after>")).Iq, "item-not-found", "cancel");
        AssertError((await QueryAsync(juliet, rsm: "<before>nope</before>")).Iq, "item-not-found", "cancel");
        AssertError((await QueryAsync(juliet, "<field var='after-id'><value>nope</value></field>")).Iq, "item-not-found", "cancel");
        AssertError((await QueryAsync(juliet, "<field var='start'><value>yesterday</value></field>")).Iq, "bad-request", "modify");
        AssertError((await QueryAsync(juliet, "<field var='fulltext'><value>hi</value></field>")).Iq, "feature-not-implemented", "cancel");
        AssertError((await QueryAsync(juliet, rsm: "<max>-1</max>")).Iq, "bad-request", "modify");
        var id = NextId();
        await juliet.SendAsync($"<iq type='set' id='{id}'><query xmlns='{M}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x></query></iq>");
        AssertError(await juliet.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == id), "bad-request", "modify");
        AssertError(await IqAsync(juliet, "set", $"<query xmlns='{M}'/>", "romeo@localhost"), "forbidden", "auth");

        var (all, iq) = await QueryAsync(juliet, rsm: "<max>100000</max>");
        Assert.Equal(3, all.Count);
        Assert.Equal("true", Fin(iq).GetAttribute("complete"));

        var form = await IqAsync(juliet, "get", $"<query xmlns='{M}'/>");
        var vars = new List<string?>();
        foreach (var f in form.Element("query", M)!.Element("x", "jabber:x:data")!.Elements("field", "jabber:x:data")) vars.Add(f.GetAttribute("var"));
        Assert.Equal(["FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"], vars);
    }

    [Fact]
    public async Task Preferences_are_kept_and_never_stops_archiving()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await using var nurse = await LoginAsync("nurse");
        var initial = await IqAsync(juliet, "get", $"<prefs xmlns='{M}'/>");
        Assert.Equal("always", initial.Element("prefs", M)!.GetAttribute("default"));

        var set = await IqAsync(juliet, "set", $"<prefs xmlns='{M}' default='always'><always/><never><jid>romeo@localhost</jid></never></prefs>");
        Assert.Equal("romeo@localhost", set.Element("prefs", M)!.Element("never", M)!.Element("jid", M)!.Text);
        AssertError(await IqAsync(juliet, "set", $"<prefs xmlns='{M}' default='sometimes'/>"), "bad-request", "modify");

        await SendManyAsync(romeo, juliet, 1, "r");
        await SendManyAsync(nurse, juliet, 1, "n");
        Assert.Equal(["n1"], Bodies((await QueryAsync(juliet)).Results));
        Assert.Equal(["r1"], Bodies((await QueryAsync(romeo)).Results)); // romeo's own archive follows romeo's preferences

        // default never: nothing is archived (the delivered message has no stanza id).
        await IqAsync(juliet, "set", $"<prefs xmlns='{M}' default='never'/>");
        await nurse.SendAsync("<message to='juliet@localhost' type='chat' id='n2'><body>n2</body></message>");
        Assert.Null((await juliet.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "n2")).Element("stanza-id", "urn:xmpp:sid:0"));
        Assert.Equal(["n1"], Bodies((await QueryAsync(juliet)).Results));

        // default roster: only contacts.
        await IqAsync(juliet, "set", $"<prefs xmlns='{M}' default='roster'/>");
        await RosterSetAsync(juliet, "<item jid='nurse@localhost'/>");
        await DrainAsync(juliet);
        await SendManyAsync(nurse, juliet, 1, "x");
        await IqAsync(juliet, "set", $"<prefs xmlns='{M}' default='roster'><never/></prefs>");
        await SendManyAsync(romeo, juliet, 1, "y");
        Assert.Equal(["n1", "x1"], Bodies((await QueryAsync(juliet)).Results));
        var stored = await IqAsync(juliet, "get", $"<prefs xmlns='{M}'/>");
        Assert.Equal("roster", stored.Element("prefs", M)!.GetAttribute("default"));
    }

    [Fact]
    public async Task Offline_messages_are_archived_and_stored_with_the_stanza_id()
    {
        await using (var romeo = await LoginAsync("romeo"))
        {
            await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='o1'><body>while you slept</body></message>");
            await DrainAsync(romeo);
        }
        await using var juliet = await LoginAsync("juliet");
        var offline = await juliet.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "o1");
        var sid = offline.Element("stanza-id", "urn:xmpp:sid:0")!.GetAttribute("id");
        Assert.Equal(sid, Assert.Single((await QueryAsync(juliet)).Results).Id);
    }

    [Fact]
    public async Task The_archive_survives_a_restart()
    {
        string[] ids;
        await using (var juliet = await LoginAsync("juliet"))
        await using (var romeo = await LoginAsync("romeo"))
        {
            await SendManyAsync(romeo, juliet, 3);
            await IqAsync(juliet, "set", $"<prefs xmlns='{M}' default='roster'><always><jid>romeo@localhost</jid></always></prefs>");
            ids = (await QueryAsync(juliet)).Results.Select(r => r.Id).ToArray();
        }
        Server.KeepDirectory = true;
        var directory = Server.Directory;
        await Server.DisposeAsync();
        await using var restarted = await TestServer.StartAsync(directory: directory);
        await using var again = await LoginAsync("juliet", server: restarted);
        var (results, iq) = await QueryAsync(again, rsm: $"<max>2</max><after>{ids[0]}</after>");
        Assert.Equal(["m2", "m3"], Bodies(results));
        Assert.Equal(ids[1..], results.Select(r => r.Id));
        Assert.Equal("true", Fin(iq).GetAttribute("complete"));
        var prefs = (await IqAsync(again, "get", $"<prefs xmlns='{M}'/>")).Element("prefs", M)!;
        Assert.Equal("roster", prefs.GetAttribute("default"));
        Assert.Equal("romeo@localhost", prefs.Element("always", M)!.Element("jid", M)!.Text);
    }
}

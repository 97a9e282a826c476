using Tendril.Server.Configuration;
using System.Text;
using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Mam;

/// <summary>
/// XEP-0059 request validation and the result &lt;set/&gt; (first@index) through MAM, and the XEP-0313 #extended ids
/// limit: a page's worth of ids is answered in full, more is refused with policy-violation, never cut short.
/// MaxPageSize is raised above the 500 the store once cut ids lists at.
/// </summary>
public sealed class MamRsmTests : ImTestBase
{
    private const string M = "urn:xmpp:mam:2";
    private const string Rsm = "http://jabber.org/protocol/rsm";
    private const int PageLimit = 600;

    protected override void Configure(Configuration.TendrilOptions options) => options.Mam.MaxPageSize = PageLimit;

    private static async Task<(List<string> Ids, List<string> Bodies, XmlElement Iq)> QueryAsync(TestClient c, string form = "", string rsm = "")
    {
        var x = form.Length == 0 ? "" : $"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>{M}</value></field>{form}</x>";
        var set = rsm.Length == 0 ? "" : $"<set xmlns='{Rsm}'>{rsm}</set>";
        var id = NextId();
        await c.SendAsync($"<iq type='set' id='{id}'><query xmlns='{M}' queryid='q'>{x}{set}</query></iq>");
        var ids = new List<string>();
        var bodies = new List<string>();
        while (true)
        {
            var e = await c.NextAsync();
            if (e.Name == "iq" && e.GetAttribute("id") == id) return (ids, bodies, e);
            if (e.Name == "message" && e.Element("result", M) is { } r)
            {
                ids.Add(r.GetAttribute("id")!);
                bodies.Add(r.Element("forwarded", "urn:xmpp:forward:0")!.Element("message", Ns.Client)!.Element("body", Ns.Client)!.Text);
            }
        }
    }

    private static XmlElement Set(XmlElement iq)
    {
        Assert.Equal("result", iq.GetAttribute("type"));
        return iq.Element("fin", M)!.Element("set", Rsm)!;
    }

    private static async Task SendManyAsync(TestClient from, TestClient to, int count)
    {
        for (var i = 1; i <= count; i++)
        {
            await from.SendAsync($"<message to='{to.Jid}' type='chat' id='m{i}'><body>m{i}</body></message>");
            await to.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == $"m{i}");
        }
    }

    [Fact]
    public async Task Result_set_has_first_index_where_known_and_bad_requests_are_refused()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await SendManyAsync(romeo, juliet, 7);

        var (first, _, iq1) = await QueryAsync(juliet, rsm: "<max>3</max>");
        var set1 = Set(iq1);
        Assert.Equal(first[0], set1.Element("first", Rsm)!.Text);
        Assert.Equal("0", set1.Element("first", Rsm)!.GetAttribute("index"));
        Assert.Equal(first[2], set1.Element("last", Rsm)!.Text);
        Assert.Equal("7", set1.Element("count", Rsm)!.Text);

        // The last page (XEP-0059 §2.5): no index (see RsmRequest.FirstIndex: backward-paging clients stop on it).
        var (last, bodies, iqLast) = await QueryAsync(juliet, rsm: "<max>3</max><before/>");
        Assert.Equal(["m5", "m6", "m7"], bodies);
        Assert.Null(Set(iqLast).Element("first", Rsm)!.GetAttribute("index"));
        Assert.Equal(last[0], Set(iqLast).Element("first", Rsm)!.Text);

        // A page after an id: the position is not claimed.
        var (_, afterBodies, iqAfter) = await QueryAsync(juliet, rsm: $"<max>2</max><after>{first[2]}</after>");
        Assert.Equal(["m4", "m5"], afterBodies);
        Assert.Null(Set(iqAfter).Element("first", Rsm)!.GetAttribute("index"));

        // An empty page has no first/last, only the count.
        var (_, _, iqEmpty) = await QueryAsync(juliet, rsm: "<max>0</max>");
        Assert.Null(Set(iqEmpty).Element("first", Rsm));
        Assert.Null(Set(iqEmpty).Element("last", Rsm));
        Assert.Equal("7", Set(iqEmpty).Element("count", Rsm)!.Text);

        AssertError((await QueryAsync(juliet, rsm: "<max>ten</max>")).Iq, "bad-request", "modify");
        AssertError((await QueryAsync(juliet, rsm: "<max>99999999999</max>")).Iq, "bad-request", "modify");
        AssertError((await QueryAsync(juliet, rsm: "<after/>")).Iq, "bad-request", "modify");
        AssertError((await QueryAsync(juliet, rsm: "<index>-2</index>")).Iq, "bad-request", "modify");
        AssertError((await QueryAsync(juliet, rsm: "<index>2</index>")).Iq, "feature-not-implemented", "cancel");
        AssertError((await QueryAsync(juliet, rsm: "<after>no-such-id</after>")).Iq, "item-not-found", "cancel");

        // The session goes on after every refusal.
        Assert.Equal(7, (await QueryAsync(juliet)).Bodies.Count);
    }

    [Fact]
    public async Task Ids_up_to_the_page_limit_are_all_answered_and_more_are_refused()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await SendManyAsync(romeo, juliet, 2);
        var (archived, _, _) = await QueryAsync(juliet);
        Assert.Equal(2, archived.Count);

        // 550 ids, the real ones last: beyond the 500 the store used to keep.
        var form = new StringBuilder("<field var='ids'>");
        for (var i = 0; i < 548; i++) form.Append("<value>unknown-").Append(i).Append("</value>");
        form.Append("<value>").Append(archived[1]).Append("</value><value>").Append(archived[0]).Append("</value></field>");
        var (found, bodies, iq) = await QueryAsync(juliet, form.ToString(), "<max>600</max>");
        Assert.Equal(["m1", "m2"], bodies);
        Assert.Equal([archived[0], archived[1]], found);
        Assert.Equal("2", Set(iq).Element("count", Rsm)!.Text);

        var tooMany = new StringBuilder("<field var='ids'>");
        for (var i = 0; i < PageLimit + 1; i++) tooMany.Append("<value>id-").Append(i).Append("</value>");
        tooMany.Append("</field>");
        var refused = (await QueryAsync(juliet, tooMany.ToString())).Iq;
        AssertError(refused, "policy-violation", "modify");
        Assert.Contains("600", refused.Element("error")!.Element("text", "urn:ietf:params:xml:ns:xmpp-stanzas")!.Text, StringComparison.Ordinal);
    }
}

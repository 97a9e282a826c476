using System.Globalization;
using System.Text;
using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.Streams;

/// <summary>
/// Issue 19: a client that does not read its answers. Its input stops being read at Limits:OutputBudgetBytes
/// (back-pressure), stanzas routed to it past Limits:OutputLimitBytes bounce, and — counted — nothing is lost: every
/// answer arrives once it reads again, every routed stanza is delivered or bounced.
/// </summary>
public sealed class OutputBudgetTests : ImTestBase
{
    private const int Budget = 64 * 1024, Limit = 512 * 1024;

    protected override void Configure(Configuration.TendrilOptions options)
    {
        options.Limits.OutputBudgetBytes = Budget;
        options.Limits.OutputLimitBytes = Limit;
    }

    private Server.Streams.C2sStream StreamOf(string jid) => Server.Server.Sessions.Find(Jid.Parse(jid))!.Stream;

    [Fact]
    public async Task A_client_that_stops_reading_is_paused_at_its_budget_and_gets_every_answer_when_it_reads_again()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var vcard = "<vCard xmlns='vcard-temp'><DESC>" + new string('x', 100_000) + "</DESC></vCard>";
        Assert.Equal("result", (await IqAsync(juliet, "set", vcard)).GetAttribute("type"));

        // 200 requests for the 100 KB vCard (20 MB of answers) in one write, and juliet reads nothing.
        const int Requests = 200;
        var gets = new StringBuilder();
        for (var i = 0; i < Requests; i++) gets.Append(CultureInfo.InvariantCulture, $"<iq type='get' id='v{i}' to='juliet@localhost'><vCard xmlns='vcard-temp'/></iq>");
        await juliet.SendAsync(gets.ToString());
        var stream = StreamOf("juliet@localhost/r");
        await WaitUntilAsync(() => stream.IsInputPaused);
        // What waits for juliet is about one answer past the budget, not 20 MB.
        Assert.InRange(stream.QueuedBytes, Budget, Budget + 150_000);

        // Nobody else is held up: romeo's ping is answered and his message to juliet is queued for her.
        var romeo = await LoginAsync("romeo", roster: false);
        Assert.Equal("result", (await IqAsync(romeo, "get", "<ping xmlns='urn:xmpp:ping'/>", "localhost")).GetAttribute("type"));
        await romeo.SendAsync("<message to='juliet@localhost/r' type='chat' id='m1'><body>still there?</body></message>");
        Assert.DoesNotContain(await DrainAsync(romeo), e => e.GetAttribute("type") == "error");
        Assert.True(stream.IsInputPaused);

        // Juliet reads again: every answer, in order, each with the whole vCard, and romeo's message.
        var answered = 0;
        var message = false;
        while (answered < Requests || !message)
        {
            var e = await juliet.NextAsync();
            if (e.Name == "message")
            {
                Assert.Equal("still there?", e.Element("body")!.Text);
                message = true;
                continue;
            }
            if (e.Name != "iq") continue;
            Assert.Equal("v" + answered.ToString(CultureInfo.InvariantCulture), e.GetAttribute("id"));
            Assert.Equal("result", e.GetAttribute("type"));
            Assert.Equal(100_000, e.Element("vCard", "vcard-temp")!.Element("DESC", "vcard-temp")!.Text.Length);
            answered++;
        }
        Assert.False(stream.IsInputPaused);
        Assert.Equal(0, stream.QueuedBytes);
        await juliet.DisposeAsync();
        await romeo.DisposeAsync();
    }

    [Fact]
    public async Task Stanzas_routed_to_a_client_that_does_not_read_bounce_past_the_byte_limit_and_none_is_lost()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false);
        // 200 numbered messages of 10 KB (2 MB) to juliet, who reads nothing until romeo is done. Romeo reads what comes
        // back while he sends (a client that did not would be paused in turn), up to the answer to a ping sent last:
        // his stanzas are routed in order, so every bounce comes before it.
        const int Sent = 200;
        var body = new string('y', 10_000);
        var romeoGot = Task.Run(async () =>
        {
            var list = new List<XmlElement>();
            while (true)
            {
                var e = await romeo.NextAsync(TimeSpan.FromSeconds(30));
                if (e.Name == "iq" && e.GetAttribute("id") == "last") return list;
                list.Add(e);
            }
        });
        for (var i = 0; i < Sent; i++)
        {
            await romeo.SendAsync($"<message to='juliet@localhost/r' type='chat' id='n{i}'><body>{i} {body}</body></message>");
        }
        await romeo.SendAsync("<iq type='get' id='last' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        var bounced = new HashSet<string>();
        foreach (var e in await romeoGot)
        {
            if (e.Name != "message" || e.GetAttribute("type") != "error") continue;
            AssertError(e, "resource-constraint", "wait");
            Assert.True(bounced.Add(e.GetAttribute("id")!));
        }
        Assert.InRange(StreamOf("juliet@localhost/r").QueuedBytes, 0, Limit);

        var delivered = new List<string>();
        foreach (var e in await DrainAsync(juliet))
        {
            if (e.Name == "message" && e.GetAttribute("from") == "romeo@localhost/r") delivered.Add(e.GetAttribute("id")!);
        }
        // Counted: each of the 200 either delivered (once, in order) or bounced, none both, none lost.
        Assert.True(bounced.Count > 0, "nothing bounced: the byte limit did not apply");
        Assert.True(delivered.Count > 0);
        Assert.Equal(delivered.Count, delivered.Distinct().Count());
        Assert.Empty(delivered.Intersect(bounced));
        Assert.Equal(Sent, delivered.Count + bounced.Count);
        var order = delivered.Select(id => int.Parse(id.AsSpan(1), CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(order.Order(), order);
        await juliet.DisposeAsync();
        await romeo.DisposeAsync();
    }
}

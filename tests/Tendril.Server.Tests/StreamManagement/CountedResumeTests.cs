using System.Globalization;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;
using Xunit.Abstractions;

namespace Tendril.Server.Tests.StreamManagement;

/// <summary>
/// Issue 18's counted scenario for XEP-0198: romeo sends juliet a numbered stream while juliet's connection drops
/// without a word in the middle of it; juliet resumes and says how many stanzas she handled. Every number must reach
/// her once — live, or resent after the resumption — or come back to romeo as an error: lost must be 0.
/// </summary>
public sealed class CountedResumeTests(ITestOutputHelper output) : ImTestBase
{
    private const string Sm = "urn:xmpp:sm:3";
    private const int Total = 300;

    [Fact]
    public async Task A_connection_dropped_mid_stream_and_resumed_loses_no_message()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false, presence: false);
        await juliet.SendAsync($"<enable xmlns='{Sm}' resume='true'/>");
        var enabled = await juliet.WaitForAsync(e => e.Namespace == Sm && e.Name is "enabled" or "failed");
        Assert.Equal("enabled", enabled.Name);
        var previd = enabled.GetAttribute("id");

        var received = new List<int>();
        var handled = 0; // stanzas juliet's client handled, as XEP-0198 counts them (every message, iq, presence)
        var dropAfter = Total / 3;
        var sending = Task.Run(async () =>
        {
            for (var i = 1; i <= Total; i++)
            {
                await romeo.SendAsync($"<message type='chat' to='juliet@localhost/r' id='n{i}'><body>{i}</body></message>");
                if (i % 20 == 0) await Task.Yield();
            }
        });

        // Read until a third has arrived, acknowledging now and then; then the connection drops mid-stream.
        while (received.Count < dropAfter)
        {
            var e = await juliet.NextAsync();
            if (e.Namespace == Sm) continue;
            handled++;
            if (e.Name == "message" && int.TryParse(e.Element("body")?.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) received.Add(n);
            if (handled % 25 == 0) await juliet.SendAsync($"<a xmlns='{Sm}' h='{handled}'/>");
        }
        await juliet.DisposeAsync();
        await WaitUntilAsync(() => Server.Server.StreamManagement.HibernatingCount == 1);
        await sending;

        var again = Server.Connect();
        await again.AuthenticateAsync("juliet", "pw");
        await again.SendAsync($"<resume xmlns='{Sm}' previd='{previd}' h='{handled}'/>");
        await again.ExpectAsync("resumed", Sm);
        var live = received.Count;
        // Everything after what she handled comes again, then the rest; a ping round trip ends the count.
        foreach (var e in await DrainAsync(again))
        {
            if (e.Name == "message" && int.TryParse(e.Element("body")?.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) received.Add(n);
        }
        while (received.Distinct().Count() < Total && await TryNextMessageAsync(again) is { } late) received.Add(late);

        var bounced = (await DrainAsync(romeo)).Count(e => e.Name == "message" && e.GetAttribute("type") == "error");
        var unique = received.Distinct().Count();
        var duplicates = received.Count - unique;
        var lost = Total - unique - bounced;
        output.WriteLine($"sent {Total}, delivered {unique} ({live} before the drop, {received.Count - live} after the resumption), bounced {bounced}, lost {lost}, duplicates {duplicates}");
        Assert.Equal(0, lost);
        Assert.Equal(0, duplicates);
        Assert.Equal(0, bounced);
        Assert.Equal(Enumerable.Range(1, Total), received); // in order, too
    }

    private static async Task<int?> TryNextMessageAsync(TestClient c)
    {
        try
        {
            var e = await c.NextAsync(TimeSpan.FromSeconds(5));
            return e.Name == "message" && int.TryParse(e.Element("body")?.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
        }
        catch (TimeoutException)
        {
            return null;
        }
    }
}

using System.Text;
using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Security;

/// <summary>Issue 19's abuse limits per session: a stanza rate and a presence rate (policy-violation), a read rate (slowed, not cut).</summary>
public sealed class RateLimitTests : ImTestBase
{
    protected override void Configure(Configuration.TendrilOptions options)
    {
        options.Limits.StanzasPerSecond = 10;
        options.Limits.StanzaBurst = 20;
        options.Limits.PresencePerSecond = 2;
        options.Limits.PresenceBurst = 5;
    }

    [Fact]
    public async Task A_session_over_its_stanza_rate_gets_policy_violation_others_are_untouched_and_the_clock_refills_it()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false, presence: false);
        var nurse = await LoginAsync("nurse", roster: false, presence: false);
        for (var i = 1; i <= 30; i++) await romeo.SendAsync($"<message type='chat' to='juliet@localhost/r' id='m{i}'><body>{i}</body></message>");
        var back = await DrainAsync(romeo);
        var refused = back.Where(e => e.Name == "message" && e.GetAttribute("type") == "error").ToList();
        // The burst (20) passed, of which the drain's own ping took none (it came after); the rest came back.
        Assert.Equal(10, refused.Count);
        Assert.All(refused, e => Assert.NotNull(e.Element("error")!.Element("policy-violation", Ns.Stanzas)));
        Assert.Equal("wait", refused[0].Element("error")!.GetAttribute("type"));
        var got = (await DrainAsync(juliet)).Count(e => e.Name == "message" && e.Element("body") is not null);
        Assert.Equal(20, got);

        // Another session is not affected; romeo's stream is still up, and after a second he may send ten more.
        await nurse.SendAsync("<message type='chat' to='juliet@localhost/r'><body>nurse</body></message>");
        await juliet.WaitForAsync(e => e.Element("body")?.Text == "nurse");
        Server.Time!.Advance(TimeSpan.FromSeconds(1));
        await romeo.SendAsync("<message type='chat' to='juliet@localhost/r'><body>later</body></message>");
        await juliet.WaitForAsync(e => e.Element("body")?.Text == "later");
    }

    [Fact]
    public async Task A_presence_storm_is_refused_past_its_burst_but_going_unavailable_always_passes()
    {
        var romeo = await LoginAsync("romeo", roster: false); // his initial presence took one
        for (var i = 0; i < 8; i++) await romeo.SendAsync($"<presence><status>{i}</status></presence>");
        var back = await DrainAsync(romeo);
        Assert.Equal(4, back.Count(e => e.Name == "presence" && e.GetAttribute("type") == "error"));
        await romeo.SendAsync("<presence type='unavailable'/>");
        Assert.DoesNotContain(await DrainAsync(romeo), e => e.GetAttribute("type") == "error");
    }
}

/// <summary>Sessions per account (RFC 6120 §7.6.2.1 resource-constraint).</summary>
public sealed class SessionLimitTests : ImTestBase
{
    protected override void Configure(Configuration.TendrilOptions options) => options.Limits.MaxSessionsPerAccount = 2;

    [Fact]
    public async Task An_account_at_its_session_limit_cannot_bind_another_but_may_replace_one()
    {
        await LoginAsync("juliet", "a", roster: false);
        await LoginAsync("juliet", "b", roster: false);
        var third = Server.Connect();
        await third.AuthenticateAsync("juliet", "pw");
        await third.SendAsync("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>c</resource></bind></iq>");
        var refused = await third.WaitForAsync(e => e.GetAttribute("id") == "bind");
        Assert.Equal("error", refused.GetAttribute("type"));
        Assert.NotNull(refused.Element("error")!.Element("resource-constraint", Ns.Stanzas));
        // The stream stays usable: binding a resource that replaces one is allowed.
        await third.SendAsync("<iq type='set' id='bind2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>a</resource></bind></iq>");
        Assert.Equal("result", (await third.WaitForAsync(e => e.GetAttribute("id") == "bind2")).GetAttribute("type"));
        // Another account is not limited by juliet's.
        await LoginAsync("romeo", "a", roster: false);
    }
}

/// <summary>The read rate: a client sending faster than Limits:ReadBytesPerSecond is read later (real time), and nothing it sent is lost.</summary>
public sealed class ReadShapingTests : ImTestBase
{
    protected override void Configure(Configuration.TendrilOptions options)
    {
        options.Limits.MaxStanzaBytes = 16 * 1024;
        options.Limits.ReadBytesPerSecond = 16 * 1024;
        options.Limits.ReadBurstBytes = 16 * 1024;
    }

    [Fact]
    public async Task A_client_over_its_read_rate_is_slowed_and_loses_nothing()
    {
        var juliet = await LoginAsync("juliet", roster: false);
        var romeo = await LoginAsync("romeo", roster: false, presence: false);
        var body = new string('x', 4000);
        var burst = new StringBuilder();
        for (var i = 1; i <= 12; i++) burst.Append($"<message type='chat' to='juliet@localhost/r'><body>{i} {body}</body></message>");
        var started = System.Diagnostics.Stopwatch.StartNew();
        await romeo.SendAsync(burst.ToString()); // ~48 KB: 16 KB at once, then 16 KB a second
        for (var i = 1; i <= 12; i++)
        {
            var m = await juliet.WaitForAsync(e => e.Element("body") is not null, TimeSpan.FromSeconds(30));
            Assert.StartsWith($"{i} ", m.Element("body")!.Text, StringComparison.Ordinal);
        }
        // 32 KB beyond the burst at 16 KB/s: about two seconds (a timing bound on the low side only, which load cannot break).
        Assert.True(started.Elapsed >= TimeSpan.FromSeconds(1.5), $"read in {started.Elapsed}");
    }
}

using System.Net;
using Tendril.Server.Configuration;
using Tendril.Server.Security;
using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Security;

/// <summary>Issue 19: failed logins slow a source down, then ban it; an account's failures never lock out a clean source.</summary>
public sealed class LoginThrottleTests
{
    private static readonly IPAddress Attacker = IPAddress.Parse("192.0.2.7"), Owner = IPAddress.Parse("198.51.100.1");

    private static (LoginThrottle Throttle, ManualTimeProvider Time) Make(Action<TendrilOptions>? configure = null)
    {
        var options = new TendrilOptions { Domain = "localhost" };
        options.Sasl.FailuresBeforeDelay = 3;
        options.Sasl.FailuresBeforeBan = 8;
        options.Sasl.BanMinutes = 10;
        configure?.Invoke(options);
        var time = new ManualTimeProvider();
        return (new LoginThrottle(time, () => options), time);
    }

    [Fact]
    public void Delays_double_after_the_free_failures_and_the_ban_ends_after_its_time()
    {
        var (throttle, time) = Make();
        var delays = new List<TimeSpan>();
        for (var i = 0; i < 7; i++)
        {
            delays.Add(throttle.Check(Attacker, "juliet@localhost").Delay);
            Assert.False(throttle.Failed(Attacker, "juliet@localhost"));
        }
        Assert.Equal([TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(800)], delays);
        Assert.True(throttle.Failed(Attacker, "juliet@localhost")); // the eighth: banned
        var verdict = throttle.Check(Attacker, "romeo@localhost");
        Assert.True(verdict.Banned);
        Assert.Equal(TimeSpan.FromMinutes(10), verdict.BannedFor);
        // The same /64 of IPv6 is one source; another /64 is not.
        for (var i = 0; i < 8; i++) throttle.Failed(IPAddress.Parse("2001:db8:1:2::" + (i + 1)), null);
        Assert.True(throttle.Check(IPAddress.Parse("2001:db8:1:2::ffff"), null).Banned);
        Assert.False(throttle.Check(IPAddress.Parse("2001:db8:1:3::1"), null).Banned);

        time.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        Assert.Equal(new LoginVerdict(TimeSpan.Zero, TimeSpan.Zero), throttle.Check(Attacker, "juliet@localhost"));
    }

    [Fact]
    public void An_account_under_attack_slows_failing_sources_only_and_success_clears_a_source()
    {
        var (throttle, _) = Make();
        // Eight attackers, one failure each on juliet: none is banned or slowed by its own count…
        for (var i = 0; i < 8; i++) throttle.Failed(IPAddress.Parse($"203.0.113.{i + 1}"), "juliet@localhost");
        // …but juliet's count slows any of them, while her own clean address is not held back.
        Assert.Equal(TimeSpan.FromSeconds(2), throttle.Check(IPAddress.Parse("203.0.113.1"), "juliet@localhost").Delay);
        Assert.Equal(TimeSpan.Zero, throttle.Check(Owner, "juliet@localhost").Delay);
        Assert.Equal(TimeSpan.Zero, throttle.Check(IPAddress.Parse("203.0.113.1"), "romeo@localhost").Delay);

        for (var i = 0; i < 4; i++) throttle.Failed(Owner, "romeo@localhost");
        Assert.NotEqual(TimeSpan.Zero, throttle.Check(Owner, "romeo@localhost").Delay);
        throttle.Succeeded(Owner);
        Assert.Equal(TimeSpan.Zero, throttle.Check(Owner, "romeo@localhost").Delay);
    }

    [Fact]
    public void Loopback_is_exempt_unless_loopback_is_limited_like_other_addresses()
    {
        var (exempt, _) = Make();
        for (var i = 0; i < 20; i++) exempt.Failed(IPAddress.Loopback, null);
        Assert.False(exempt.Check(IPAddress.Loopback, null).Banned);
        Assert.Equal(0, exempt.TrackedSources);

        var (limited, _) = Make(o => o.Limits.LimitLoopbackPerAddress = true);
        for (var i = 0; i < 8; i++) limited.Failed(IPAddress.Loopback, null);
        Assert.True(limited.Check(IPAddress.Loopback, null).Banned);
        Assert.Equal(IPAddress.Parse("192.0.2.7"), LoginThrottle.ParseEndPoint("192.0.2.7:5222"));
        Assert.Null(LoginThrottle.ParseEndPoint("memory-client"));
    }
}

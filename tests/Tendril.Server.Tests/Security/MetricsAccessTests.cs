using System.Net;
using Tendril.Server.Diagnostics;

namespace Tendril.Server.Tests.Security;

/// <summary>Issue 19: /metrics is for loopback and the networks an operator names, not every interface.</summary>
public sealed class MetricsAccessTests
{
    [Theory]
    [InlineData("127.0.0.1", "", true)]
    [InlineData("::1", "", true)]
    [InlineData("::ffff:127.0.0.1", "", true)]
    [InlineData("192.0.2.7", "", false)]
    [InlineData("192.0.2.7", "10.0.0.0/8", false)]
    [InlineData("10.1.2.3", "10.0.0.0/8", true)]
    [InlineData("2001:db8::5", "10.0.0.0/8,2001:db8::/32", true)]
    [InlineData("198.51.100.1", "*", true)]
    public void Loopback_and_the_allowed_networks_read_metrics(string address, string allow, bool allowed)
    {
        var networks = allow.Length == 0 ? [] : allow.Split(',');
        Assert.Equal(allowed, DiagnosticsEndpoints.MayReadMetrics(IPAddress.Parse(address), networks));
    }
}

using System.Net;
using System.Net.Sockets;
using Tendril.Protocol;
using Tendril.Server.Configuration;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Transport;
using Tendril.Xml;

namespace Tendril.Server.Tests.Transport;

/// <summary>
/// Connection limits (issue 19): past the total, unauthenticated or per-address limit a new connection gets a stream
/// header and the stream error (RFC 6120 §4.9.3: resource-constraint for the server's limits, policy-violation for an
/// address's share) and is closed, while everyone else goes on. Real sockets; the per-address tests connect from
/// several loopback addresses (Linux routes all of 127.0.0.0/8 to lo).
/// </summary>
public sealed class ConnectionLimitTests
{
    private static async Task<TestClient> ConnectAsync(TestServer server, string from = "127.0.0.1")
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await socket.ConnectAsync(IPAddress.Loopback, server.Server.C2sEndPoint!.Port);
        return new TestClient(new NetworkStream(socket, ownsSocket: true));
    }

    /// <summary>A connection the server refuses: it reads a header, the stream error and the end, without sending a byte.</summary>
    private static async Task<XmlElement> ExpectRefusedAsync(TestServer server, string condition, string from = "127.0.0.1")
    {
        await using var c = await ConnectAsync(server, from);
        return await c.ExpectStreamErrorAsync(condition);
    }

    /// <summary>Connects until the server accepts (a closed connection's place is given back when the server has closed it).</summary>
    private static async Task<TestClient> ConnectWhenAdmittedAsync(TestServer server, string from = "127.0.0.1")
    {
        var deadline = DateTime.UtcNow + TestClient.DefaultTimeout;
        while (true)
        {
            var c = await ConnectAsync(server, from);
            await c.SendAsync(c.Header());
            await c.ExpectStreamHeaderAsync();
            var next = await c.NextAsync();
            if (next.Is("features", Ns.Streams)) return c;
            await c.DisposeAsync();
            Assert.True(DateTime.UtcNow < deadline, "never admitted: " + next);
        }
    }

    private static async Task ChatAsync(TestClient from, TestClient to, string text)
    {
        await from.SendAsync($"<message to='{to.Jid}' type='chat'><body>{text}</body></message>");
        Assert.Equal(text, (await to.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
    }

    [Fact]
    public async Task Past_the_per_address_limit_an_address_gets_policy_violation_while_others_log_in_and_chat()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Limits.MaxConnectionsPerAddress = 3;
            o.Limits.LimitLoopbackPerAddress = true;
        }, listen: true, manualTime: false);
        await server.AddUserAsync("juliet", "pw1");
        await server.AddUserAsync("romeo", "pw2");

        // The flooder fills its address's share with silent streams, then is refused.
        var flood = new List<TestClient>();
        for (var i = 0; i < 3; i++)
        {
            var c = await ConnectAsync(server, "127.0.0.2");
            await c.OpenAsync();
            flood.Add(c);
        }
        for (var i = 0; i < 2; i++)
        {
            var error = await ExpectRefusedAsync(server, "policy-violation", "127.0.0.2");
            Assert.Contains("address", error.Element("text", Ns.StreamErrors)!.Text, StringComparison.Ordinal);
        }
        Assert.Equal(2, server.Server.Connections.RefusedTotal);

        // Bystanders from other addresses log in and chat.
        await using var juliet = await ConnectAsync(server, "127.0.0.1");
        await juliet.LoginAsync("juliet", "pw1", "balcony");
        await using var romeo = await ConnectAsync(server, "127.0.0.3");
        await romeo.LoginAsync("romeo", "pw2", "garden");
        await ChatAsync(juliet, romeo, "still here");
        await ChatAsync(romeo, juliet, "and here");

        // A flood connection that goes away gives its place back.
        await flood[0].DisposeAsync();
        await using var again = await ConnectWhenAdmittedAsync(server, "127.0.0.2");
        foreach (var c in flood.Skip(1)) await c.DisposeAsync();
    }

    [Fact]
    public async Task Past_the_total_limit_new_connections_get_resource_constraint_and_sessions_go_on()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            // 20 in all, of which the last 10 (HttpReserve: 1%, at least 16, at most half) only HTTP may take.
            o.Limits.MaxConnections = 20;
            o.Limits.MaxUnauthenticatedConnections = 20;
        }, listen: true, manualTime: false);
        Assert.Equal(10, server.Server.Connections.Limits.HttpReserve);
        await server.AddUserAsync("juliet", "pw1");
        await server.AddUserAsync("romeo", "pw2");
        await using var juliet = await ConnectAsync(server);
        await juliet.LoginAsync("juliet", "pw1", "balcony");
        await using var romeo = await ConnectAsync(server);
        await romeo.LoginAsync("romeo", "pw2", "garden");
        var silent = new List<TestClient>();
        for (var i = 0; i < 8; i++)
        {
            var c = await ConnectAsync(server);
            await c.OpenAsync();
            silent.Add(c);
        }
        Assert.Equal(10, server.Server.Connections.Open);

        for (var i = 0; i < 3; i++)
        {
            var error = await ExpectRefusedAsync(server, "resource-constraint");
            Assert.Contains("too many connections", error.Element("text", Ns.StreamErrors)!.Text, StringComparison.Ordinal);
        }
        Assert.Equal(10, server.Server.Connections.Open);
        // The places kept for HTTP are still free (/health answers when XMPP connections fill the rest).
        using (var http = server.Server.Connections.TryOpen(IPAddress.Loopback, out var refusal, http: true))
        {
            Assert.NotNull(http);
            Assert.Equal(ConnectionRefusal.None, refusal);
        }
        await ChatAsync(juliet, romeo, "over the limit");
        await ChatAsync(romeo, juliet, "we stay");
        foreach (var c in silent) await c.DisposeAsync();
    }

    [Fact]
    public async Task Past_the_unauthenticated_limit_new_streams_are_refused_and_authenticated_ones_free_their_place()
    {
        await using var server = await TestServer.StartAsync(o => o.Limits.MaxUnauthenticatedConnections = 2, listen: true, manualTime: false);
        await server.AddUserAsync("juliet", "pw1");
        await server.AddUserAsync("romeo", "pw2");
        await using var romeo = await ConnectAsync(server);
        await romeo.LoginAsync("romeo", "pw2", "garden");
        Assert.Equal(0, server.Server.Connections.Unauthenticated);

        var silent = await ConnectAsync(server);
        await silent.OpenAsync();
        await using var juliet = await ConnectAsync(server);
        await juliet.OpenAsync(); // negotiating: the limit of 2 is reached
        var error = await ExpectRefusedAsync(server, "resource-constraint");
        Assert.Contains("logging in", error.Element("text", Ns.StreamErrors)!.Text, StringComparison.Ordinal);

        // juliet, counted while negotiating, authenticates: her place is free for the next one.
        await juliet.StartTlsAsync();
        await juliet.OpenAsync();
        await juliet.SendAsync($"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{Convert.ToBase64String(Protocol.Sasl.PlainMechanism.Create("juliet", "pw1"))}</auth>");
        await juliet.ExpectAsync("success", Ns.Sasl);
        await juliet.RestartAsync();
        await juliet.SendAsync("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>");
        await juliet.ExpectAsync("iq");
        Assert.Equal(1, server.Server.Connections.Unauthenticated);
        await using var third = await ConnectAsync(server);
        await third.OpenAsync();
        await ExpectRefusedAsync(server, "resource-constraint");

        await romeo.SendAsync("<message to='juliet@localhost/balcony' type='chat'><body>hi</body></message>");
        Assert.Equal("hi", (await juliet.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
        await silent.DisposeAsync();
    }

    [Fact]
    public async Task Streams_over_other_transports_get_resource_constraint_past_the_unauthenticated_limit()
    {
        await using var server = await TestServer.StartAsync(o => o.Limits.MaxUnauthenticatedConnections = 1);
        await server.AddUserAsync("juliet", "pw1");
        await using var first = server.Connect();
        await first.OpenAsync();
        await using (var refused = server.Connect())
        {
            await refused.ExpectStreamErrorAsync("resource-constraint");
        }
        Assert.Equal(1, server.Server.Connections.Unauthenticated);
    }

    [Fact]
    public void Http_and_xmpp_each_keep_a_share_of_the_total_the_other_cannot_take()
    {
        var limits = ConnectionLimits.Resolve(new LimitsOptions { MaxConnections = 100, MaxConnectionsPerAddress = 0 }, 20_000);
        Assert.Equal(16, limits.HttpReserve);
        var address = IPAddress.Parse("192.0.2.1");
        static List<ConnectionGate.Lease> Fill(ConnectionGate gate, IPAddress address, bool http)
        {
            var leases = new List<ConnectionGate.Lease>();
            while (gate.TryOpen(address, out _, http) is { } lease) leases.Add(lease);
            Assert.Null(gate.TryOpen(address, out var refusal, http));
            Assert.Equal(ConnectionRefusal.Total, refusal);
            return leases;
        }
        // An XMPP flood leaves HTTP its 16 (so /health answers)…
        var gate = new ConnectionGate(() => limits, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        Assert.Equal(84, Fill(gate, address, http: false).Count);
        Assert.Equal(16, Fill(gate, address, http: true).Count);
        Assert.Equal(100, gate.Open);
        // …and an HTTP flood leaves XMPP as many.
        gate = new ConnectionGate(() => limits, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        Assert.Equal(84, Fill(gate, address, http: true).Count);
        var xmpp = Fill(gate, address, http: false);
        Assert.Equal(16, xmpp.Count);
        // A lease gives its place back once, however often it is disposed.
        xmpp[0].Dispose();
        xmpp[0].Dispose();
        Assert.Single(Fill(gate, address, http: false));
        Assert.Equal(100, gate.Open);
    }

    [Theory]
    [InlineData(20_000L, 0, 0, 18_000, 4_500, false)]
    [InlineData(20_000L, 50_000, 0, 18_000, 4_500, true)]   // lowered to fit the descriptors, with a warning
    [InlineData(20_000L, 1_000, 100, 1_000, 100, false)]
    [InlineData(1_024L, 0, 0, 768, 192, false)]             // headroom of at least 256
    [InlineData(null, 0, 0, 10_000, 2_500, false)]          // descriptor limit unknown
    public void Limits_resolve_against_the_descriptor_limit(long? descriptors, int configured, int unauthenticated, int total, int negotiating, bool clamped)
    {
        var limits = ConnectionLimits.Resolve(new LimitsOptions { MaxConnections = configured, MaxUnauthenticatedConnections = unauthenticated }, descriptors);
        Assert.Equal(total, limits.MaxConnections);
        Assert.Equal(negotiating, limits.MaxUnauthenticated);
        Assert.Equal(clamped, limits.Clamped);
        Assert.Equal(256, limits.MaxPerAddress);
        Assert.Equal(Math.Min(total / 2, Math.Clamp(total / 100, 16, 256)), limits.HttpReserve);
        Assert.False(limits.LimitLoopback);
    }

    [Fact]
    public void Negative_limits_do_not_validate()
    {
        var options = new TendrilOptions();
        options.Limits.MaxConnections = -1;
        options.Limits.MaxConnectionsPerAddress = -1;
        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains("Tendril:Limits:MaxConnections", e.Message, StringComparison.Ordinal);
        Assert.Contains("Tendril:Limits:MaxConnectionsPerAddress", e.Message, StringComparison.Ordinal);
    }
}

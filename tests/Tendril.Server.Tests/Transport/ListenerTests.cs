using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Tendril.Server.Configuration;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Transport;

namespace Tendril.Server.Tests.Transport;

/// <summary>
/// Listeners own their ports (issue 21): a second server on a port in use fails to start with a message naming the
/// listener, the address, the port and the setting; a restarted server binds over the TIME_WAIT connections of the
/// previous one.
/// </summary>
public sealed class ListenerTests
{
    private static async Task<ListenerBindException> SecondServerFailsAsync(Action<TendrilOptions> configure)
    {
        var e = await Assert.ThrowsAsync<ListenerBindException>(() => TestServer.StartAsync(configure, listen: true, manualTime: false));
        Assert.Equal(SocketError.AddressAlreadyInUse, e.Error);
        Assert.DoesNotContain("   at ", e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public async Task A_second_server_on_the_same_c2s_port_fails_to_start_and_names_the_listener_port_and_setting()
    {
        await using var first = await TestServer.StartAsync(listen: true, manualTime: false);
        var port = first.Server.C2sEndPoint!.Port;
        var e = await SecondServerFailsAsync(o => o.C2s.Port = port);
        Assert.Contains("c2s listener", e.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Contains("Tendril:C2s:Port", e.Message, StringComparison.Ordinal);

        // The first server still gets every connection (with SO_REUSEPORT the kernel would have split them).
        await first.AddUserAsync("juliet", "pw");
        for (var i = 0; i < 4; i++)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            await using var c = new TestClient(tcp.GetStream());
            Assert.StartsWith("juliet@localhost/", await c.LoginAsync("juliet", "pw", presence: false), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_second_server_on_the_same_direct_tls_port_fails_and_releases_the_c2s_port_it_bound()
    {
        await using var first = await TestServer.StartAsync(listen: true, manualTime: false);
        var tlsPort = first.Server.DirectTlsEndPoint!.Port;
        var c2sPort = FreePort();
        var e = await SecondServerFailsAsync(o =>
        {
            o.C2s.Port = c2sPort;
            o.C2s.DirectTlsPort = tlsPort;
        });
        Assert.Contains("c2s-tls listener", e.Message, StringComparison.Ordinal);
        Assert.Contains("Tendril:C2s:DirectTlsPort", e.Message, StringComparison.Ordinal);
        // The c2s listener it had bound first was closed with the failed start.
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, c2sPort));
    }

    [Fact]
    public async Task A_component_port_in_use_fails_the_start_and_names_its_setting()
    {
        await using var first = await TestServer.StartAsync(listen: true, manualTime: false);
        var port = first.Server.C2sEndPoint!.Port;
        var e = await SecondServerFailsAsync(o =>
        {
            o.Components.Port = port;
            o.Components.Services = [new ComponentServiceOptions { Domain = "bot.localhost", Secret = "s" }];
        });
        Assert.Contains("component listener", e.Message, StringComparison.Ordinal);
        Assert.Contains("Tendril:Components:Port", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_restarted_server_binds_its_port_over_the_time_wait_connections_of_the_previous_one()
    {
        if (!OperatingSystem.IsLinux()) return; // reads /proc/net/tcp
        int port;
        await using (var first = await TestServer.StartAsync(listen: true, manualTime: false))
        {
            port = first.Server.C2sEndPoint!.Port;
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            await using var c = new TestClient(tcp.GetStream());
            await c.OpenAsync();
            // Shutdown: the server sends system-shutdown and its closing tag, the client answers with its own, and the
            // server closes first — so the connection's TIME_WAIT is on the server's port.
            var stopping = first.Server.StopAsync(TimeSpan.FromSeconds(5));
            await c.ExpectStreamErrorAsync("system-shutdown");
            await stopping;
        }
        await WaitForTimeWaitAsync(port);
        await using var second = await TestServer.StartAsync(o => o.C2s.Port = port, listen: true, manualTime: false);
        Assert.Equal(port, second.Server.C2sEndPoint!.Port);
    }

    private static async Task WaitForTimeWaitAsync(int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        var local = ":" + port.ToString("X4", CultureInfo.InvariantCulture) + " ";
        while (true)
        {
            foreach (var line in await File.ReadAllLinesAsync("/proc/net/tcp"))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 3 && (fields[1] + " ").EndsWith(local, StringComparison.Ordinal) && fields[3] == "06") return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"no TIME_WAIT connection on port {port}");
            await Task.Delay(20); // kernel state: no event to wait on
        }
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}

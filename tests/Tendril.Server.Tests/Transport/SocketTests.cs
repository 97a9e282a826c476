using System.Net.Sockets;
using Tendril.Protocol;
using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Transport;

/// <summary>The same protocol over real TCP sockets and real TLS: STARTTLS on the c2s port, TLS from the first byte on the direct-TLS port (XEP-0368).</summary>
public sealed class SocketTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(listen: true, manualTime: false);
        await _server.AddUserAsync("juliet", "pw1");
        await _server.AddUserAsync("romeo", "pw2");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<TestClient> ConnectAsync(bool directTls)
    {
        var tcp = new TcpClient();
        var endPoint = directTls ? _server.Server.DirectTlsEndPoint! : _server.Server.C2sEndPoint!;
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, endPoint.Port);
        return new TestClient(tcp.GetStream(), directTls);
    }

    [Fact]
    public async Task Tls_connections_let_openssl_release_idle_buffers_and_keep_working()
    {
        await using var juliet = await ConnectAsync(directTls: false);
        await juliet.LoginAsync("juliet", "pw1", "balcony");
        await using var romeo = await ConnectAsync(directTls: true);
        await romeo.LoginAsync("romeo", "pw2", "garden");
        if (OperatingSystem.IsLinux()) Assert.True(Tendril.Server.Tls.OpenSslIdleBuffers.Works, "SSL_MODE_RELEASE_BUFFERS was not set");
        if (OperatingSystem.IsLinux()) Assert.True(Tendril.Server.Tls.OpenSslIdleBuffers.BioTrims > 0, "the memory BIOs kept their handshake buffers");
        // Idle between records (the buffers are released), then traffic in both directions, larger than one record.
        var body = new string('x', 40_000);
        for (var i = 0; i < 3; i++)
        {
            await juliet.SendAsync($"<message to='romeo@localhost/garden' id='a{i}'><body>{body}</body></message>");
            var m = await romeo.WaitForAsync(e => e.Name == "message");
            Assert.Equal(body, m.Element("body")!.Text);
            await romeo.SendAsync($"<message to='juliet@localhost/balcony' id='b{i}'><body>{i}</body></message>");
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), (await juliet.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
        }
    }

    [Fact]
    public async Task Trimming_idle_tls_buffers_while_traffic_flows_both_ways_loses_and_corrupts_nothing()
    {
        // The idle trim takes SslStream's own encrypt/decrypt lock; here it runs in a tight loop on juliet's
        // connection while 300 messages (some larger than a TLS record) go to her and 100 come back.
        await using var juliet = await ConnectAsync(directTls: true);
        await juliet.LoginAsync("juliet", "pw1", "busy");
        await using var romeo = await ConnectAsync(directTls: false);
        await romeo.LoginAsync("romeo", "pw2", "sender");
        var transport = _server.Server.Sessions.Find(Jid.Parse("juliet@localhost/busy"))!.Stream.Transport;
        var trimsBefore = Tendril.Server.Tls.OpenSslIdleBuffers.BioTrims;
        using var stop = new CancellationTokenSource();
        var trimmer = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested) transport.TrimIdleMemory();
        });
        string Body(int i) => i % 10 == 0 ? new string((char)('a' + i % 26), 20_000) : "m" + i;
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < 300; i++) await romeo.SendAsync($"<message to='juliet@localhost/busy' id='m{i}'><body>{Body(i)}</body></message>");
        });
        for (var i = 0; i < 300; i++)
        {
            var m = await juliet.WaitForAsync(e => e.Name == "message");
            Assert.Equal("m" + i, m.GetAttribute("id"));
            Assert.Equal(Body(i), m.Element("body")!.Text);
            if (i % 3 == 0) await juliet.SendAsync($"<message to='romeo@localhost/sender' id='r{i}'><body>back {i}</body></message>");
        }
        await sending;
        for (var i = 0; i < 300; i += 3)
        {
            Assert.Equal("back " + i, (await romeo.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
        }
        await stop.CancelAsync();
        await trimmer;
        if (OperatingSystem.IsLinux()) Assert.True(Tendril.Server.Tls.OpenSslIdleBuffers.BioTrims > trimsBefore, "no idle trim happened");
    }

    [Fact]
    public async Task Starttls_and_direct_tls_clients_chat_over_tcp()
    {
        await using var juliet = await ConnectAsync(directTls: false);
        await juliet.LoginAsync("juliet", "pw1", "tcp");
        await using var romeo = await ConnectAsync(directTls: true);
        await romeo.LoginAsync("romeo", "pw2", "tls");
        await juliet.SendAsync("<message to='romeo@localhost/tls' type='chat'><body>over the wire</body></message>");
        var m = await romeo.WaitForAsync(e => e.Name == "message");
        Assert.Equal("juliet@localhost/tcp", m.GetAttribute("from"));
        Assert.Equal("over the wire", m.Element("body")!.Text);
        await romeo.SendAsync("<message to='juliet@localhost/tcp' type='chat'><body>and back</body></message>");
        Assert.Equal("and back", (await juliet.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
    }

    [Fact]
    public async Task Many_connections_at_once_all_log_in_and_a_broken_one_does_not_hurt_them()
    {
        const int n = 40;
        var clients = new TestClient[n];
        await Task.WhenAll(Enumerable.Range(0, n).Select(async i =>
        {
            clients[i] = await ConnectAsync(directTls: i % 2 == 0);
            await clients[i].LoginAsync(i % 2 == 0 ? "juliet" : "romeo", i % 2 == 0 ? "pw1" : "pw2", "r" + i, presence: false);
        }));
        Assert.Equal(n, _server.Server.Sessions.Count);

        // A client that sends garbage over TLS is cut off alone.
        await using (var bad = await ConnectAsync(directTls: true))
        {
            await bad.UpgradeAsync();
            await bad.SendAsync("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'><<<");
            await bad.ExpectStreamErrorAsync("not-well-formed");
        }
        await clients[0].SendAsync("<message to='romeo@localhost/r1'><body>ok</body></message>");
        Assert.Equal("ok", (await clients[1].WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
        Assert.Equal(n, _server.Server.Sessions.Count);
        foreach (var c in clients) await c.DisposeAsync();
    }

    [Fact]
    public async Task Tls_handshake_garbage_closes_only_that_connection()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, _server.Server.DirectTlsEndPoint!.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync("this is not a TLS ClientHello\r\n\r\n"u8.ToArray());
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int read;
        do
        {
            try { read = await stream.ReadAsync(buffer, cts.Token); }
            catch (IOException) { read = 0; }
        }
        while (read > 0);
        await using var ok = await ConnectAsync(directTls: false);
        Assert.StartsWith("juliet@localhost/", await ok.LoginAsync("juliet", "pw1"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_oversized_stanza_over_tls_gets_its_stream_error_not_a_reset()
    {
        // 8 MB in one write against the 256 KiB limit: more than the socket buffers hold, so the client is still writing
        // when the server errors. Were the socket closed with the rest unread, the kernel would send a reset: the
        // client's write would fail (broken pipe) and the error could be lost. The server reads and discards until the client hangs up (RFC 6120 §4.4).
        await using var mallory = await ConnectAsync(directTls: true);
        await mallory.LoginAsync("juliet", "pw1", "big", presence: false);
        await using var romeo = await ConnectAsync(directTls: false);
        await romeo.LoginAsync("romeo", "pw2", "r");
        var huge = "<message to='romeo@localhost/r'><body>" + new string('x', 8 * 1024 * 1024) + "</body></message>";
        await mallory.SendAsync(System.Text.Encoding.UTF8.GetBytes(huge));
        await mallory.ExpectStreamErrorAsync("policy-violation");

        await using var juliet = await ConnectAsync(directTls: false);
        await juliet.LoginAsync("juliet", "pw1", "after");
        await juliet.SendAsync("<message to='romeo@localhost/r'><body>still here</body></message>");
        Assert.Equal("still here", (await romeo.WaitForAsync(e => e.Name == "message")).Element("body")!.Text);
    }
}

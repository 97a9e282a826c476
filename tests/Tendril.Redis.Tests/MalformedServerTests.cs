using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tendril.Redis.Tests;

/// <summary>A "server" that answers garbage: the client closes the connection and reports it, nothing else breaks.</summary>
public sealed class MalformedServerTests
{
    [Theory]
    [InlineData("!not resp\r\n")]
    [InlineData("+PONG\n")]
    [InlineData("$5\r\nPONGPONG\r\n")]
    [InlineData(":12x\r\n")]
    public async Task Garbage_from_the_server_fails_the_connection_with_RedisConnectionException(string answer)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serve = Task.Run(async () =>
        {
            // Answer every connection's first bytes with the garbage, then hold it open until the client gives up.
            for (int i = 0; i < 2; i++)
            {
                using var peer = await listener.AcceptSocketAsync().ConfigureAwait(false);
                var buffer = new byte[4096];
                await peer.ReceiveAsync(buffer).ConfigureAwait(false);
                await peer.SendAsync(Encoding.ASCII.GetBytes(answer)).ConfigureAwait(false);
                while (await peer.ReceiveAsync(buffer).ConfigureAwait(false) > 0)
                {
                }
            }
        });
        await using var client = new RedisClient(new RedisClientOptions
        {
            EndPoint = "127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        });
        var error = await Assert.ThrowsAsync<RedisConnectionException>(() => client.ConnectAsync().Within());
        Assert.False(client.IsConnected);
        Assert.Contains("Protocol error", error.ToString(), StringComparison.Ordinal);
        listener.Stop();
    }
}

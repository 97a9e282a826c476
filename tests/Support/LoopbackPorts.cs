using System.Net;
using System.Net.Sockets;

namespace Tendril.Tests.Support;

/// <summary>Ports for the servers the tests start (Tendril processes, redis-server, PostgreSQL).</summary>
public static class LoopbackPorts
{
    /// <summary>
    /// A free loopback port below Linux's ephemeral range (32768–60999). A port the kernel picks (bind to 0) is in that
    /// range, where any process's next outgoing connection may take it before the server binds it — or while a server
    /// the test restarted on the same port is down. A CI run failed so ("the c2s listener cannot listen on
    /// 127.0.0.1:39131: the address is already in use"). Two test processes may still pick one port at the same moment:
    /// the starters try again on another port when the bind fails.
    /// </summary>
    public static int Free()
    {
        for (var i = 0; i < 200; i++)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException("No free loopback port in 20000..31999.");
    }
}

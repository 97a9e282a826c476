using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tendril.Server.Logging;

namespace Tendril.Server.Transport;

/// <summary>
/// Accepts TCP connections on one endpoint and hands each to a callback. The accept loop survives any single
/// failure (a reset during accept, running out of file descriptors) and stops only when disposed.
/// </summary>
public sealed class TcpListenerLoop : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Func<Socket, Task> _onAccepted;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public TcpListenerLoop(IPEndPoint endPoint, Func<Socket, Task> onAccepted, ILogger logger, string name)
    {
        Name = name;
        _onAccepted = onAccepted;
        _logger = logger;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            _socket.DualMode = true;
        }
        _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _socket.Bind(endPoint);
        _socket.Listen(4096);
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public string Name { get; }

    /// <summary>The bound endpoint (with the actual port when 0 was configured).</summary>
    public IPEndPoint EndPoint { get; }

    public void Start() => _loop = Task.Run(AcceptLoopAsync);

    private async Task AcceptLoopAsync()
    {
        ServerLog.ListenerStarted(_logger, Name, EndPoint.ToString());
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex)
            {
                // EMFILE, ECONNABORTED…: log, back off briefly so a descriptor shortage is not a busy loop, go on.
                ServerLog.AcceptFailed(_logger, Name, ex.SocketErrorCode.ToString(), ex);
                try { await Task.Delay(50, _stop.Token).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
                continue;
            }
            client.NoDelay = true;
            _ = RunConnectionAsync(client);
        }
    }

    private async Task RunConnectionAsync(Socket client)
    {
        try
        {
            await _onAccepted(client).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ServerLog.ConnectionCrashed(_logger, Name, ex);
            client.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        if (_loop is not null)
        {
            try { await _loop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        _stop.Dispose();
    }
}

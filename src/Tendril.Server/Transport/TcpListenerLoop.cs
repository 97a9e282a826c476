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

    /// <summary>Binds and listens at once, so a port in use fails the server's start.</summary>
    /// <param name="portSetting">The setting that chose the port (e.g. <c>Tendril:C2s:Port</c>), named in the error.</param>
    /// <param name="addressSetting">The setting that chose the address, named in the error.</param>
    /// <exception cref="ListenerBindException">The endpoint cannot be bound (in use, privileged port, foreign address).</exception>
    public TcpListenerLoop(IPEndPoint endPoint, Func<Socket, Task> onAccepted, ILogger logger, string name, string portSetting, string addressSetting)
    {
        Name = name;
        _onAccepted = onAccepted;
        _logger = logger;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                _socket.DualMode = true;
            }
            AllowRebindOverTimeWait(_socket);
            _socket.Bind(endPoint);
            _socket.Listen(4096);
        }
        catch (SocketException ex)
        {
            _socket.Dispose();
            throw new ListenerBindException(name, endPoint, ex.SocketErrorCode, portSetting, addressSetting, ex);
        }
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    /// <summary>
    /// Lets a restarted server bind while connections of the previous one are in TIME_WAIT, without letting two
    /// processes share the port. On Linux a listener cannot bind over TIME_WAIT connections of its port unless both the
    /// old and the new socket set SO_REUSEADDR (checked with plain sockets: EADDRINUSE otherwise), and SO_REUSEADDR alone
    /// never lets a second socket listen on a port that is being listened on. .NET's
    /// <see cref="SocketOptionName.ReuseAddress"/> on Unix sets SO_REUSEPORT as well, which does let a second process
    /// listen on the same port (the kernel then splits the connections between them; ListenerTests showed it), so it is
    /// not used: SO_REUSEADDR is set by its raw number. (.NET's Bind on Unix sets SO_REUSEADDR on TCP sockets itself —
    /// the restart test passes without this call — but the behaviour is stated here rather than relied on.) On Windows
    /// SO_REUSEADDR would allow port hijacking and rebinding over TIME_WAIT works without it: the port is claimed
    /// exclusively.
    /// </summary>
    internal static void AllowRebindOverTimeWait(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        }
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            socket.SetRawSocketOption(0xFFFF /* SOL_SOCKET */, 4 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        }
        else if (OperatingSystem.IsWindows())
        {
            socket.ExclusiveAddressUse = true;
        }
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

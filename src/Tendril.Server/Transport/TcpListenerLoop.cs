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
    private ConnectionGate? _gate;
    private Action<Socket, ConnectionRefusal>? _refuse;

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

    /// <summary>
    /// Admits every accepted connection through <paramref name="gate"/> (total and per-address limits); a refused one is
    /// handed to <paramref name="refuse"/>, which writes what it can and closes it. Call before <see cref="Start"/>.
    /// </summary>
    public void UseGate(ConnectionGate gate, Action<Socket, ConnectionRefusal> refuse)
    {
        _gate = gate;
        _refuse = refuse;
    }

    public void Start() => _loop = Task.Run(AcceptLoopAsync);

    private async Task AcceptLoopAsync()
    {
        ServerLog.ListenerStarted(_logger, Name, EndPoint.ToString());
        var delayMs = 0;
        long failures = 0;
        var lastReport = long.MinValue;
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
                delayMs = 0;
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (Exception ex)
            {
                // EMFILE/ENFILE (TooManyOpenSockets), ENOBUFS, ECONNABORTED, or anything else: never leave the loop.
                // Back off (doubling from 10 ms to 1 s) so a descriptor shortage is not a busy loop — the pending
                // connection stays in the backlog — and log once per 10 s, not once per failure.
                failures++;
                delayMs = Math.Clamp(delayMs * 2, 10, 1000);
                var now = Environment.TickCount64;
                if (now - lastReport >= 10_000)
                {
                    ServerLog.AcceptFailing(_logger, Name, failures, (ex as SocketException)?.SocketErrorCode.ToString() ?? ex.GetType().Name, ex.Message, delayMs);
                    failures = 0;
                    lastReport = now;
                }
                try { await Task.Delay(delayMs, _stop.Token).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
                continue;
            }
            Admit(client);
        }
    }

    private void Admit(Socket client)
    {
        ConnectionGate.Lease? lease = null;
        try
        {
            if (_gate is { } gate)
            {
                var address = (client.RemoteEndPoint as IPEndPoint)?.Address;
                lease = gate.TryOpen(address, out var refusal);
                if (lease is null)
                {
                    gate.Report(refusal, Name, address);
                    _refuse!(client, refusal);
                    return;
                }
            }
            client.NoDelay = true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Reset before we got to it.
            lease?.Dispose();
            client.Dispose();
            return;
        }
        _ = RunConnectionAsync(client, lease);
    }

    private async Task RunConnectionAsync(Socket client, ConnectionGate.Lease? lease)
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
        finally
        {
            // The connection's task ends after its socket is closed (after any linger): its place is free now.
            lease?.Dispose();
        }
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> (a stream error) if the socket takes them at once, and closes it. Never blocks and
    /// never throws: a refused connection costs one descriptor for the moment it takes. Unread input is read and dropped
    /// first so the close is a FIN behind the bytes rather than a reset.
    /// </summary>
    public static void Refuse(Socket socket, ReadOnlySpan<byte> bytes)
    {
        try
        {
            socket.Blocking = false;
            if (!bytes.IsEmpty) socket.Send(bytes, SocketFlags.None, out _);
            Span<byte> discard = stackalloc byte[512];
            for (var i = 0; i < 8 && socket.Available > 0; i++) socket.Receive(discard, SocketFlags.None, out _);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            socket.Dispose();
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

using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Tendril.Server.Transport;

/// <summary>Why a connection was refused (the metric's <c>reason</c> label).</summary>
public enum ConnectionRefusal : byte
{
    None,
    /// <summary>All client connections together reached <see cref="ConnectionLimits.MaxConnections"/>: resource-constraint.</summary>
    Total,
    /// <summary>Streams still negotiating reached <see cref="ConnectionLimits.MaxUnauthenticated"/>: resource-constraint.</summary>
    Unauthenticated,
    /// <summary>The source address reached <see cref="ConnectionLimits.MaxPerAddress"/>: policy-violation.</summary>
    Address,
}

/// <summary>
/// Counts the server's client connections — every TCP listener and the HTTP server's connections — in total and per
/// source address, and the streams that have not authenticated yet, against <see cref="ConnectionLimits"/> (read at
/// each admission, so a reload applies to new connections). Admission happens in the accept path, once per
/// connection; nothing here runs per stanza.
/// </summary>
public sealed class ConnectionGate
{
    private static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    private readonly Func<ConnectionLimits> _limits;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<AddressKey, int> _perAddress = [];
    private int _open;
    private int _openHttp;
    private int _openXmpp;
    private int _unauthenticated;
    private long _refusedSinceReport;
    private long _lastReportTicks;

    public ConnectionGate(Func<ConnectionLimits> limits, TimeProvider time, ILogger logger)
    {
        _limits = limits;
        _time = time;
        _logger = logger;
    }

    /// <summary>Raised for every refusal (the server counts it in its metrics).</summary>
    public event Action<ConnectionRefusal, string>? Refused;

    /// <summary>Open connections counted (all listeners and HTTP).</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Connections refused since start (all reasons).</summary>
    public long RefusedTotal => Interlocked.Read(ref _refusedTotal);

    private long _refusedTotal;

    /// <summary>Streams that have not authenticated yet.</summary>
    public int Unauthenticated => Volatile.Read(ref _unauthenticated);

    public ConnectionLimits Limits => _limits();

    /// <summary>
    /// Admits a new connection from <paramref name="address"/> against the total and per-address limits; null (and the
    /// reason) when it must be refused. Dispose the lease when the connection's descriptor is closed.
    /// </summary>
    /// <param name="http">
    /// An HTTP connection. HTTP connections and XMPP connections each may take at most the total less
    /// <see cref="ConnectionLimits.HttpReserve"/>, so a flood of either leaves the other that many places: /health answers
    /// when XMPP connections fill the server, and XMPP logins go on during an HTTP flood.
    /// </param>
    public Lease? TryOpen(IPAddress? address, out ConnectionRefusal refusal, bool http = false)
    {
        var limits = _limits();
        ref var own = ref http ? ref _openHttp : ref _openXmpp;
        if (Interlocked.Increment(ref own) > limits.MaxConnections - limits.HttpReserve)
        {
            Interlocked.Decrement(ref own);
            refusal = ConnectionRefusal.Total;
            return null;
        }
        if (Interlocked.Increment(ref _open) > limits.MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            Interlocked.Decrement(ref own);
            refusal = ConnectionRefusal.Total;
            return null;
        }
        AddressKey? key = null;
        if (address is not null && limits.MaxPerAddress != int.MaxValue && (limits.LimitLoopback || !IPAddress.IsLoopback(MapToIPv4(address))))
        {
            var k = AddressKey.From(address);
            lock (_lock)
            {
                _perAddress.TryGetValue(k, out var count);
                if (count >= limits.MaxPerAddress)
                {
                    Interlocked.Decrement(ref _open);
                    Interlocked.Decrement(ref own);
                    refusal = ConnectionRefusal.Address;
                    return null;
                }
                _perAddress[k] = count + 1;
            }
            key = k;
        }
        refusal = ConnectionRefusal.None;
        return new Lease(this, key, http);
    }

    /// <summary>A new stream that will negotiate (TLS, SASL): false when too many already are.</summary>
    public bool TryBeginNegotiation()
    {
        if (Interlocked.Increment(ref _unauthenticated) > _limits().MaxUnauthenticated)
        {
            Interlocked.Decrement(ref _unauthenticated);
            return false;
        }
        return true;
    }

    /// <summary>A stream counted by <see cref="TryBeginNegotiation"/> authenticated or ended (call once).</summary>
    public void EndNegotiation() => Interlocked.Decrement(ref _unauthenticated);

    /// <summary>
    /// Counts a refusal and logs it, at most once per 10 s with the number refused since the last line — a flood must
    /// not become a flood of log lines.
    /// </summary>
    public void Report(ConnectionRefusal refusal, string listener, IPAddress? address)
    {
        Interlocked.Increment(ref _refusedTotal);
        Refused?.Invoke(refusal, listener);
        Interlocked.Increment(ref _refusedSinceReport);
        _latest = (refusal, listener, address);
        FlushReport();
    }

    private (ConnectionRefusal Reason, string Listener, IPAddress? Address) _latest;

    /// <summary>
    /// Logs the refusals not reported yet once 10 s have passed since the last line (called by each refusal and by the
    /// heartbeat, so the count of a burst is reported even when nothing is refused after it).
    /// </summary>
    public void FlushReport()
    {
        if (Interlocked.Read(ref _refusedSinceReport) == 0) return;
        var now = _time.GetUtcNow().UtcTicks;
        var last = Volatile.Read(ref _lastReportTicks);
        if (now - last < ReportInterval.Ticks || Interlocked.CompareExchange(ref _lastReportTicks, now, last) != last) return;
        var refused = Interlocked.Exchange(ref _refusedSinceReport, 0);
        if (refused == 0) return;
        var (reason, listener, address) = _latest;
        Logging.ServerLog.ConnectionsRefused(_logger, refused, reason.ToString(), listener, address is null ? "?" : MapToIPv4(address).ToString(),
            Open, Unauthenticated, _limits().ToString());
    }

    private void Close(AddressKey? key, bool http)
    {
        Interlocked.Decrement(ref http ? ref _openHttp : ref _openXmpp);
        if (key is { } k)
        {
            lock (_lock)
            {
                if (_perAddress.TryGetValue(k, out var count))
                {
                    if (count <= 1) _perAddress.Remove(k);
                    else _perAddress[k] = count - 1;
                }
            }
        }
        Interlocked.Decrement(ref _open);
    }

    private static IPAddress MapToIPv4(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>One admitted connection; disposing it (once) gives its place back.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly ConnectionGate _gate;
        private readonly AddressKey? _key;
        private readonly bool _http;
        private int _disposed;

        internal Lease(ConnectionGate gate, AddressKey? key, bool http)
        {
            _gate = gate;
            _key = key;
            _http = http;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) _gate.Close(_key, _http);
        }
    }

    /// <summary>An IPv4 address (IPv4-mapped IPv6 included) or the /64 prefix of an IPv6 address: one "source".</summary>
    internal readonly record struct AddressKey(ulong Prefix, uint V4, bool IsV6)
    {
        public static AddressKey From(IPAddress address)
        {
            var a = MapToIPv4(address);
            Span<byte> bytes = stackalloc byte[16];
            if (a.AddressFamily == AddressFamily.InterNetwork)
            {
                a.TryWriteBytes(bytes, out _);
                return new AddressKey(0, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes), false);
            }
            a.TryWriteBytes(bytes, out _);
            return new AddressKey(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes), 0, true);
        }
    }
}

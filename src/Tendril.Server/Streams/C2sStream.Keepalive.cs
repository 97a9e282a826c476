using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Streams;

/// <summary>
/// Timeouts, driven by the server's one heartbeat (no timer per connection): negotiation and TLS-handshake deadlines,
/// and for established sessions an XEP-0199 ping after a quiet spell, closing with connection-timeout when even that
/// gets no answer — so a dead TCP peer never holds a session.
/// </summary>
public sealed partial class C2sStream
{
    private readonly long _openedAtTicks;
    private long _lastReceivedTicks;
    private long _pingSentTicks;
    private long _tlsStartedTicks;
    private long _idleTrimmedAt;
    private const int IdleTrimSeconds = 5;
    private long _pingCounter;

    /// <summary>Called once per heartbeat tick (about every second) on the heartbeat's thread.</summary>
    internal void OnHeartbeat(DateTimeOffset now)
    {
        if (IsClosing) return;
        _outbound.TrimExcess();
        var limits = _server.Options.Limits;
        var nowTicks = now.UtcTicks;
        var tlsStarted = Volatile.Read(ref _tlsStartedTicks);
        if (tlsStarted != 0 && nowTicks - tlsStarted > TimeSpan.TicksPerSecond * _server.Options.Tls.HandshakeTimeoutSeconds)
        {
            _ = CloseAsync(null, "TLS handshake timed out");
            CancelLifetime();
            return;
        }
        if (Session is null)
        {
            if (nowTicks - _openedAtTicks > TimeSpan.TicksPerSecond * limits.NegotiationTimeoutSeconds)
            {
                _ = CloseAsync(new StreamError(StreamErrorCondition.ConnectionTimeout, "Stream negotiation took too long."), "negotiation timeout");
            }
            return;
        }
        var lastReceived = Volatile.Read(ref _lastReceivedTicks);
        var pingSent = Volatile.Read(ref _pingSentTicks);
        if (pingSent != 0)
        {
            if (lastReceived >= pingSent)
            {
                Volatile.Write(ref _pingSentTicks, 0); // the peer spoke: alive
            }
            else if (nowTicks - pingSent > TimeSpan.TicksPerSecond * limits.PingTimeoutSeconds)
            {
                _ = CloseAsync(new StreamError(StreamErrorCondition.ConnectionTimeout, "No answer to keepalive ping."), "keepalive timeout");
            }
            return;
        }
        if (lastReceived != _idleTrimmedAt && nowTicks - lastReceived > TimeSpan.TicksPerSecond * IdleTrimSeconds)
        {
            // Quiet for a while: once per quiet spell, the TLS layer gives back buffers sized by earlier traffic.
            _idleTrimmedAt = lastReceived;
            _transport.TrimIdleMemory();
        }
        if (nowTicks - lastReceived > TimeSpan.TicksPerSecond * limits.IdleSeconds)
        {
            Volatile.Write(ref _pingSentTicks, nowTicks);
            var id = "ka-" + Interlocked.Increment(ref _pingCounter).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var ping = new XmlElement("iq", Ns.Client)
                .SetAttribute("type", "get").SetAttribute("id", id)
                .SetAttribute("from", _server.Domain).SetAttribute("to", Session.JidString)
                .Add(new XmlElement("ping", Ns.Ping));
            _ = SendAsync(ping);
        }
    }

    private void CancelLifetime()
    {
        try { _lifetime.Cancel(); } catch (ObjectDisposedException) { }
    }
}

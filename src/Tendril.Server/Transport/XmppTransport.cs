using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using Tendril.Server.Streams;

namespace Tendril.Server.Transport;

/// <summary>
/// What a <see cref="C2sStream"/> runs over: the connection's bytes as pipes, whether it is secure, and how the XML
/// stream is framed on it. <see cref="StreamTransport"/> is TCP (with STARTTLS); <see cref="WebSocketTransport"/>
/// is RFC 7395.
/// </summary>
public abstract class XmppTransport : IAsyncDisposable
{
    public abstract PipeReader Input { get; }

    public abstract PipeWriter Output { get; }

    public abstract string RemoteEndPoint { get; }

    /// <summary>What carries the bytes, for metrics and the admin page: "tcp" (the default), "websocket", "bosh".</summary>
    public string Kind { get; init; } = "tcp";

    /// <summary>True when TLS protects the connection (or the operator vouches for the path, e.g. a TLS-terminating proxy).</summary>
    public abstract bool IsSecure { get; }

    /// <summary>The negotiated TLS protocol, when this transport did the handshake itself.</summary>
    public virtual SslProtocols TlsProtocol => SslProtocols.None;

    /// <summary>Whether STARTTLS can be offered (only on a raw byte stream).</summary>
    public virtual bool CanStartTls => false;

    internal virtual StreamFraming Framing => StreamFraming.Tcp;

    /// <summary>
    /// The server sent a stream error and its closing tag: before the connection is disposed, what the peer still sends
    /// may need reading (nothing to do by default).
    /// </summary>
    internal virtual ValueTask LingerAsync() => ValueTask.CompletedTask;

    /// <summary>The connection has been quiet for a while: give back what its TLS layer holds only for traffic.</summary>
    internal virtual void TrimIdleMemory()
    {
    }

    /// <summary>Called once by the stream that runs over this transport (for transports that report errors to it).</summary>
    internal virtual void Attach(C2sStream stream)
    {
    }

    /// <summary>How long closing may wait for output to drain (the server's <c>Tendril:Limits:DrainSeconds</c>).</summary>
    internal static TimeSpan DrainTimeoutOf(C2sStream? stream) => stream?.Server.DrainTimeout ?? TimeSpan.FromSeconds(Configuration.LimitsOptions.DefaultDrainSeconds);

    public virtual ValueTask UpgradeToTlsAsync(SslStreamCertificateContext certificate, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("This transport cannot switch to TLS.");

    public abstract ValueTask DisposeAsync();
}

using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Tendril.Server.Transport;

/// <summary>
/// The byte transport of one XMPP connection over any <see cref="Stream"/> (a socket's NetworkStream, or an
/// in-memory stream in tests), exposed as pipes. STARTTLS swaps the pipes for ones over an <see cref="SslStream"/>
/// (the transport-swap pattern of Orleans' TLS middleware). Readers use zero-byte reads, so an idle connection holds
/// no read buffer.
/// </summary>
public sealed class StreamTransport : IAsyncDisposable
{
    private const int MinimumReadSize = 2048;
    private const int WriteBufferSize = 4096;

    private Stream _stream;
    private int _disposed;

    public StreamTransport(Stream stream, string remoteEndPoint, string localEndPoint, bool isSecure = false)
    {
        _stream = stream;
        RemoteEndPoint = remoteEndPoint;
        LocalEndPoint = localEndPoint;
        IsSecure = isSecure;
        (Input, Output) = CreatePipes(stream);
    }

    public PipeReader Input { get; private set; }

    public PipeWriter Output { get; private set; }

    public string RemoteEndPoint { get; }

    public string LocalEndPoint { get; }

    /// <summary>What carries the bytes, for metrics and the admin page: "tcp" (the default); other bindings set their own.</summary>
    public string Kind { get; init; } = "tcp";

    /// <summary>True once TLS protects the connection (after STARTTLS, or from the start on a direct-TLS port).</summary>
    public bool IsSecure { get; private set; }

    /// <summary>The negotiated TLS protocol, once secure.</summary>
    public SslProtocols TlsProtocol { get; private set; }

    private static (PipeReader, PipeWriter) CreatePipes(Stream stream)
    {
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(
            bufferSize: 4096, minimumReadSize: MinimumReadSize, leaveOpen: true, useZeroByteReads: true));
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: WriteBufferSize, leaveOpen: true));
        return (reader, writer);
    }

    /// <summary>
    /// Performs the server side of a TLS handshake over the current stream and swaps the pipes.
    /// The caller must have stopped reading and writing the old pipes (and flushed <c>&lt;proceed/&gt;</c>).
    /// Any bytes the old reader had buffered are dropped: they arrived in plain text before TLS (RFC 6120 §5.4.3.3).
    /// The handshake's time limit is the connection heartbeat's (cancel <paramref name="cancellationToken"/>).
    /// </summary>
    public async ValueTask UpgradeToTlsAsync(SslStreamCertificateContext certificate, CancellationToken cancellationToken)
    {
        if (IsSecure) throw new InvalidOperationException("The transport is already secure.");
        await Input.CompleteAsync().ConfigureAwait(false);
        await Output.CompleteAsync().ConfigureAwait(false);
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = certificate,
                ClientCertificateRequired = false,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        Tls.OpenSslIdleBuffers.TryEnable(ssl);
        _stream = ssl;
        TlsProtocol = ssl.SslProtocol;
        IsSecure = true;
        (Input, Output) = CreatePipes(ssl);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try { await Input.CompleteAsync().ConfigureAwait(false); } catch (InvalidOperationException) { }
        try { await Output.CompleteAsync().ConfigureAwait(false); } catch (InvalidOperationException) { } catch (IOException) { }
        try { await _stream.DisposeAsync().ConfigureAwait(false); } catch (IOException) { } catch (ObjectDisposedException) { }
    }
}

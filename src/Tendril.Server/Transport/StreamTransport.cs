using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Tendril.Server.Transport;

/// <summary>
/// The byte transport of one XMPP connection over any <see cref="Stream"/> (a socket's NetworkStream, or an
/// in-memory stream in tests), exposed as pipes. STARTTLS swaps the pipes for ones over an <see cref="SslStream"/>
/// (the transport-swap pattern of Orleans' TLS middleware). Readers use zero-byte reads, so an idle connection holds
/// no read buffer.
/// </summary>
public sealed class StreamTransport : XmppTransport
{
    private const int MinimumReadSize = 2048;
    private const int WriteBufferSize = 4096;

    private Stream _stream;
    private PipeReader _input;
    private PipeWriter _output;
    private bool _isSecure;
    private SslProtocols _tlsProtocol;
    private int _disposed;

    public StreamTransport(Stream stream, string remoteEndPoint, string localEndPoint, bool isSecure = false)
    {
        _stream = stream;
        RemoteEndPoint = remoteEndPoint;
        LocalEndPoint = localEndPoint;
        _isSecure = isSecure;
        (_input, _output) = CreatePipes(stream);
    }

    public override PipeReader Input => _input;

    public override PipeWriter Output => _output;

    public override string RemoteEndPoint { get; }

    public string LocalEndPoint { get; }

    /// <summary>True once TLS protects the connection (after STARTTLS, or from the start on a direct-TLS port).</summary>
    public override bool IsSecure => _isSecure;

    /// <summary>The negotiated TLS protocol, once secure.</summary>
    public override SslProtocols TlsProtocol => _tlsProtocol;

    public override bool CanStartTls => !_isSecure;

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
    public override async ValueTask UpgradeToTlsAsync(SslStreamCertificateContext certificate, CancellationToken cancellationToken)
    {
        if (IsSecure) throw new InvalidOperationException("The transport is already secure.");
        await Input.CompleteAsync().ConfigureAwait(false);
        await Output.CompleteAsync().ConfigureAwait(false);
        // Whitespace after <starttls/> that arrives after the read that carried it would reach the handshake.
        var ssl = new SslStream(new LeadingWhitespaceSkippingStream(_stream), leaveInnerStreamOpen: false);
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
        Tls.NativeMemoryTrimmer.NoteChurn();
        _stream = ssl;
        _tlsProtocol = ssl.SslProtocol;
        _isSecure = true;
        (_input, _output) = CreatePipes(ssl);
    }

    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);
    private const long LingerBytes = 16 << 20;

    /// <summary>
    /// After a stream error the peer may still be sending (the rest of an oversized stanza, say). Closing a socket
    /// with unread bytes makes the kernel answer with a reset, which can destroy the error before the peer reads it
    /// and fails the peer's pending write. So read and discard until the peer sends its closing tag or hangs up, at
    /// most 2 s and 16 MiB (RFC 6120 §4.4: the closing side waits a reasonable time for the other side's closing tag;
    /// Prosody's c2s_close_timeout does the same).
    /// </summary>
    internal override async ValueTask LingerAsync()
    {
        using var timeout = new CancellationTokenSource(LingerTime);
        long discarded = 0;
        try
        {
            var input = Input;
            while (discarded < LingerBytes)
            {
                // The first read may return the cancellation the closing stream left pending; it is one-shot.
                var result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var reader = new SequenceReader<byte>(buffer);
                if (reader.TryReadTo(out ReadOnlySequence<byte> _, StreamCloseTag, advancePastDelimiter: true))
                {
                    input.AdvanceTo(buffer.End);
                    break;
                }
                // Keep the tail: it may be the start of the closing tag.
                var keep = Math.Min(buffer.Length, StreamCloseTag.Length - 1);
                discarded += buffer.Length - keep;
                input.AdvanceTo(buffer.GetPosition(buffer.Length - keep), buffer.End);
                if (result.IsCompleted) break;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException or SocketException)
        {
        }
    }

    private static ReadOnlySpan<byte> StreamCloseTag => "</stream:stream>"u8;

    internal override void TrimIdleMemory()
    {
        if (_stream is SslStream ssl && Volatile.Read(ref _disposed) == 0) Tls.OpenSslIdleBuffers.TrimIdle(ssl);
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try { await Input.CompleteAsync().ConfigureAwait(false); } catch (InvalidOperationException) { }
        try { await Output.CompleteAsync().ConfigureAwait(false); } catch (InvalidOperationException) { } catch (IOException) { }
        try { await _stream.DisposeAsync().ConfigureAwait(false); } catch (IOException) { } catch (ObjectDisposedException) { }
        if (_isSecure) Tls.NativeMemoryTrimmer.NoteChurn();
    }
}

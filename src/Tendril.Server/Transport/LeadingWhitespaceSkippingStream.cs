namespace Tendril.Server.Transport;

/// <summary>
/// The clear-text stream under the TLS layer of a STARTTLS connection. Whitespace the client wrote after
/// <c>&lt;starttls/&gt;</c> (go-sendxmpp and others end every element with a newline) belongs to the old XML stream;
/// what arrived with the <c>&lt;starttls/&gt;</c> read is dropped with it (RFC 6120 §5.4.3.3), but a newline in a later
/// TCP segment would reach the TLS handshake as its first byte and fail it. This stream drops whitespace before the
/// first byte of the ClientHello — never a valid first byte of a TLS record (content types 20–24, or an SSLv2 header
/// with the high bit set) — and is a plain pass-through after it.
/// </summary>
internal sealed class LeadingWhitespaceSkippingStream(Stream inner) : Stream
{
    private bool _skipping = true;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>After the first byte of the handshake a plain pass-through: no state machine of its own per read.</summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _skipping && !buffer.IsEmpty ? SkipThenReadAsync(buffer, cancellationToken) : inner.ReadAsync(buffer, cancellationToken);

    private async ValueTask<int> SkipThenReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (!_skipping || n == 0) return n;
            var kept = Skip(buffer.Span[..n]);
            if (kept != 0) return kept;
        }
    }

    /// <summary>Drops leading whitespace of what was read; how many bytes remain (0: all whitespace, read on).</summary>
    private int Skip(Span<byte> read)
    {
        var first = read.IndexOfAnyExcept(" \t\r\n"u8);
        if (first < 0) return 0;
        _skipping = false;
        if (first > 0) read[first..].CopyTo(read);
        return read.Length - first;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        while (true)
        {
            var n = inner.Read(buffer);
            if (!_skipping || n == 0 || buffer.IsEmpty) return n;
            var kept = Skip(buffer[..n]);
            if (kept != 0) return kept;
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}

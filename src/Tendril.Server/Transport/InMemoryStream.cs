using System.IO.Pipelines;

namespace Tendril.Server.Transport;

/// <summary>
/// One end of an in-memory, full-duplex byte connection (two pipes), used by the protocol tests instead of a socket.
/// TLS runs over it like over a socket, so STARTTLS is exercised for real.
/// </summary>
public sealed class InMemoryStream : Stream
{
    private readonly Stream _read;
    private readonly Stream _write;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;

    private InMemoryStream(PipeReader reader, PipeWriter writer)
    {
        _reader = reader;
        _writer = writer;
        _read = reader.AsStream(leaveOpen: true);
        _write = writer.AsStream(leaveOpen: true);
    }

    /// <summary>Creates a connected pair: what one end writes, the other reads.</summary>
    public static (InMemoryStream Client, InMemoryStream Server) CreatePair()
    {
        var toServer = new Pipe(new PipeOptions(useSynchronizationContext: false));
        var toClient = new Pipe(new PipeOptions(useSynchronizationContext: false));
        return (new InMemoryStream(toClient.Reader, toServer.Writer), new InMemoryStream(toServer.Reader, toClient.Writer));
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => _write.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => _write.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => _read.Read(buffer, offset, count);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _read.ReadAsync(buffer, cancellationToken);
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _read.ReadAsync(buffer, offset, count, cancellationToken);
    public override void Write(byte[] buffer, int offset, int count) => _write.Write(buffer, offset, count);
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _write.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        await _write.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _reader.Complete();
            _writer.Complete();
        }
        base.Dispose(disposing);
    }
}

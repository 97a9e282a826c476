using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Tendril.Redis;

/// <summary>
/// One TCP connection speaking RESP2: commands are written in call order under one write lock and their replies
/// matched in order (pipelining); pushes on a subscriber connection go to <see cref="OnPush"/> in arrival order.
/// </summary>
internal sealed class RespConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Queue<TaskCompletionSource<RedisResult>> _pending = new();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _dead;

    private RespConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream);
    }

    /// <summary>Set on a subscriber connection: called in order for every push (and subscribe confirmations).</summary>
    public Func<RedisResult, ValueTask>? OnPush { get; set; }

    /// <summary>Completes when the connection is lost.</summary>
    public Task Closed => _closed.Task;

    public static async Task<RespConnection> ConnectAsync(string endPoint, TimeSpan timeout, CancellationToken ct)
    {
        var colon = endPoint.LastIndexOf(':');
        var host = colon > 0 ? endPoint[..colon] : endPoint;
        var port = colon > 0 ? int.Parse(endPoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture) : 6379;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            if (IPAddress.TryParse(host, out var ip)) await socket.ConnectAsync(new IPEndPoint(ip, port), cts.Token).ConfigureAwait(false);
            else await socket.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            ct.ThrowIfCancellationRequested();
            throw new RedisConnectionException($"Cannot connect to Redis at {endPoint}: {e.Message}", e);
        }
        var connection = new RespConnection(socket);
        _ = connection.ReadLoopAsync();
        return connection;
    }

    public async Task<RedisResult> SendAsync(ReadOnlyMemory<byte> command, int replies, TimeSpan timeout)
    {
        var sources = new TaskCompletionSource<RedisResult>[replies];
        for (var i = 0; i < replies; i++) sources[i] = new TaskCompletionSource<RedisResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                if (_dead) throw new RedisConnectionException("The Redis connection is down.");
                foreach (var s in sources) _pending.Enqueue(s);
            }
            await _stream.WriteAsync(command).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            Fail(e);
            throw new RedisConnectionException("The Redis connection was lost: " + e.Message, e);
        }
        catch (ObjectDisposedException e)
        {
            Fail(e);
            throw new RedisConnectionException("The Redis connection was lost.", e);
        }
        finally
        {
            _writeLock.Release();
        }
        RedisResult last = RedisResult.Null;
        foreach (var s in sources)
        {
            try
            {
                last = await s.Task.WaitAsync(timeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new RedisTimeoutException($"Redis did not answer within {timeout.TotalMilliseconds} ms.");
            }
        }
        return last;
    }

    /// <summary>Writes without expecting in-order replies (SUBSCRIBE on the subscriber connection: answers arrive as pushes).</summary>
    public async Task WriteAsync(ReadOnlyMemory<byte> command)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_dead) throw new RedisConnectionException("The Redis connection is down.");
            await _stream.WriteAsync(command).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            Fail(e);
            throw new RedisConnectionException("The Redis connection was lost: " + e.Message, e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                var read = await _reader.ReadAsync().ConfigureAwait(false);
                var buffer = read.Buffer;
                while (TryParse(ref buffer, out var result))
                {
                    if (OnPush is { } push && result.Kind == RedisResultKind.Array)
                    {
                        await push(result).ConfigureAwait(false);
                        continue;
                    }
                    TaskCompletionSource<RedisResult>? source;
                    lock (_gate) _pending.TryDequeue(out source);
                    if (source is null) continue;
                    if (result.Kind == RedisResultKind.Error) source.TrySetException(new RedisServerException(result.AsString() ?? "ERR"));
                    else source.TrySetResult(result);
                }
                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted) break;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidDataException or OperationCanceledException)
        {
            error = e;
        }
        Fail(error);
    }

    private void Fail(Exception? error)
    {
        TaskCompletionSource<RedisResult>[] pending;
        lock (_gate)
        {
            if (_dead) return;
            _dead = true;
            pending = [.. _pending];
            _pending.Clear();
        }
        foreach (var p in pending) p.TrySetException(new RedisConnectionException("The Redis connection was lost.", error));
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        _stream.Dispose();
        _closed.TrySetResult();
    }

    public ValueTask DisposeAsync()
    {
        Fail(null);
        return ValueTask.CompletedTask;
    }

    // ---- RESP2 ---------------------------------------------------------------------------------------------------

    private static bool TryParse(ref ReadOnlySequence<byte> buffer, out RedisResult result)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!TryParse(ref reader, out result)) return false;
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private static bool TryParse(ref SequenceReader<byte> reader, out RedisResult result)
    {
        result = RedisResult.Null;
        if (!reader.TryRead(out var prefix)) return false;
        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8)) return false;
        switch (prefix)
        {
            case (byte)'+':
                result = new RedisResult(RedisResultKind.SimpleString, line.ToArray());
                return true;
            case (byte)'-':
                result = new RedisResult(RedisResultKind.Error, line.ToArray());
                return true;
            case (byte)':':
                result = new RedisResult(RedisResultKind.Integer, integer: ParseInt(line));
                return true;
            case (byte)'$':
            {
                var length = ParseInt(line);
                if (length < 0) return true;
                if (reader.Remaining < length + 2) return false;
                var bytes = new byte[length];
                reader.TryCopyTo(bytes);
                reader.Advance(length + 2);
                result = new RedisResult(RedisResultKind.BulkString, bytes);
                return true;
            }
            case (byte)'*':
            {
                var count = ParseInt(line);
                if (count < 0) return true;
                var items = new RedisResult[count];
                for (var i = 0; i < count; i++)
                {
                    if (!TryParse(ref reader, out items[i])) return false;
                }
                result = new RedisResult(RedisResultKind.Array, items: items);
                return true;
            }
            default:
                throw new InvalidDataException($"Unexpected RESP type byte 0x{prefix:x2}.");
        }
    }

    private static long ParseInt(ReadOnlySequence<byte> line)
    {
        Span<byte> span = stackalloc byte[24];
        if (line.Length > span.Length) throw new InvalidDataException("RESP integer too long.");
        line.CopyTo(span);
        if (!Utf8Parser.TryParse(span[..(int)line.Length], out long value, out _)) throw new InvalidDataException("Bad RESP integer.");
        return value;
    }

    /// <summary>Encodes one command as a RESP array of bulk strings.</summary>
    public static void Encode(ArrayBufferWriter<byte> output, string command, ReadOnlySpan<RedisArg> args)
    {
        WriteHeader(output, (byte)'*', args.Length + 1);
        WriteBulk(output, System.Text.Encoding.ASCII.GetBytes(command));
        foreach (var a in args) WriteBulk(output, a.Bytes.Span);
    }

    private static void WriteBulk(ArrayBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        WriteHeader(output, (byte)'$', bytes.Length);
        output.Write(bytes);
        output.Write("\r\n"u8);
    }

    private static void WriteHeader(ArrayBufferWriter<byte> output, byte prefix, long n)
    {
        var span = output.GetSpan(24);
        span[0] = prefix;
        Utf8Formatter.TryFormat(n, span[1..], out var written);
        span[1 + written] = (byte)'\r';
        span[2 + written] = (byte)'\n';
        output.Advance(3 + written);
    }
}

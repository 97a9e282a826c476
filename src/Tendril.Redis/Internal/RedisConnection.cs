using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Tendril.Redis.Internal;

/// <summary>
/// One socket to Redis: commands are written under a lock into an in-memory pipe together with their
/// <see cref="PendingCommand"/> (so queue order is wire order), a send loop flushes whatever has accumulated in one
/// write, and a read loop parses replies and completes the oldest pending command. On a subscriber connection,
/// <c>message</c> pushes go to the push handler instead (awaited: a full subscription queue pauses reading).
/// Closing runs once and fails every pending command.
/// </summary>
internal sealed class RedisConnection
{
    private static readonly PipeOptions SendPipeOptions = new(
        pool: MemoryPool<byte>.Shared,
        // Never pause: the writer holds a lock and must not wait. The queue is bounded in time instead: a command
        // not answered within CommandTimeout closes the connection (see CheckTimeout).
        pauseWriterThreshold: 0,
        resumeWriterThreshold: 0,
        minimumSegmentSize: 16 * 1024,
        useSynchronizationContext: false);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly Pipe _output = new(SendPipeOptions);
    private readonly Lock _sync = new();
    private readonly Queue<PendingCommand> _pending = new();
    private readonly Func<RedisConnection, RedisResult, ValueTask>? _pushHandler;
    private readonly Action<RedisConnection, Exception> _onClosed;
    private Exception? _closeReason;
    private int _closed;
    private long _lastWrite;

    private RedisConnection(Socket socket, string role, Func<RedisConnection, RedisResult, ValueTask>? pushHandler, Action<RedisConnection, Exception> onClosed)
    {
        _onClosed = onClosed;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 4096, leaveOpen: true));
        Role = role;
        _pushHandler = pushHandler;
        _lastWrite = Stopwatch.GetTimestamp();
    }

    /// <summary>"command" or "subscriber", for logs.</summary>
    public string Role { get; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>
    /// Opens the socket (TCP_NODELAY and keepalive on TCP) and starts the loops. <paramref name="onClosed"/> is called
    /// once, after the connection closed and its pending commands failed.
    /// </summary>
    public static async Task<RedisConnection> OpenAsync(
        EndPoint endPoint, string role, Func<RedisConnection, RedisResult, ValueTask>? pushHandler, Action<RedisConnection, Exception> onClosed, CancellationToken ct)
    {
        Socket socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : endPoint is IPEndPoint ip
                ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
                : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint is not UnixDomainSocketEndPoint)
            {
                socket.NoDelay = true;
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
                socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 30);
                socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 5);
            }
            await socket.ConnectAsync(endPoint, ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var connection = new RedisConnection(socket, role, pushHandler, onClosed);
        _ = connection.SendLoopAsync();
        _ = connection.ReadLoopAsync();
        return connection;
    }

    /// <summary>Writes one command; the task completes with its reply.</summary>
    public Task<RedisResult> SendAsync(string command, ReadOnlySpan<RedisArg> args, PendingKind kind = PendingKind.Command)
    {
        var pending = new PendingCommand(1, kind);
        lock (_sync)
        {
            if (_closeReason is not null) return FailedAfterClose();
            RespWriter.WriteCommand(_output.Writer, command, args);
            Enqueue(pending);
        }
        return pending.Task;
    }

    /// <summary>Writes MULTI, the commands and EXEC back to back; the task completes with EXEC's reply.</summary>
    public Task<RedisResult> SendTransactionAsync(ReadOnlySpan<(string Command, RedisArg[] Args)> commands)
    {
        var pending = new PendingCommand(commands.Length + 2, PendingKind.Transaction);
        lock (_sync)
        {
            if (_closeReason is not null) return FailedAfterClose();
            var writer = _output.Writer;
            RespWriter.WriteCommand(writer, "MULTI", []);
            foreach (var (command, args) in commands) RespWriter.WriteCommand(writer, command, args ?? []);
            RespWriter.WriteCommand(writer, "EXEC", []);
            Enqueue(pending);
        }
        return pending.Task;
    }

    private void Enqueue(PendingCommand pending)
    {
        long now = Stopwatch.GetTimestamp();
        pending.WrittenAt = now;
        _lastWrite = now;
        _pending.Enqueue(pending);
        // With pauseWriterThreshold 0 this completes synchronously: it only wakes the send loop.
        var flush = _output.Writer.FlushAsync();
        Debug.Assert(flush.IsCompleted);
    }

    private Task<RedisResult> FailedAfterClose() => Task.FromException<RedisResult>(_closeReason is ObjectDisposedException
        ? new ObjectDisposedException(nameof(RedisClient))
        : new RedisConnectionException($"The Redis {Role} connection is closed; reconnecting.", _closeReason!));

    /// <summary>
    /// Closes the connection when its oldest command has waited longer than <paramref name="timeoutTicks"/>: replies
    /// come in order, so nothing behind it can be answered either. True when it closed.
    /// </summary>
    public bool CheckTimeout(long now, long timeoutTicks)
    {
        lock (_sync)
        {
            if (_pending.Count == 0 || now - _pending.Peek().WrittenAt <= timeoutTicks) return false;
        }
        Close(new RedisTimeoutException($"Redis did not answer within {TimeSpan.FromTicks(timeoutTicks * TimeSpan.TicksPerSecond / Stopwatch.Frequency)}."), timeoutTicks);
        return true;
    }

    /// <summary>True when nothing is pending and nothing was written for <paramref name="idleTicks"/>: time for a PING.</summary>
    public bool IsIdle(long now, long idleTicks)
    {
        lock (_sync) return _pending.Count == 0 && now - _lastWrite > idleTicks;
    }

    public void Close(Exception reason) => Close(reason, 0);

    /// <summary>
    /// Closes once: fails pending commands (with <paramref name="reason"/> when it is a timeout or dispose, for
    /// commands within their deadline with a <see cref="RedisConnectionException"/>), then calls the close callback.
    /// </summary>
    private void Close(Exception reason, long timeoutTicks)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        PendingCommand[] failed;
        lock (_sync)
        {
            _closeReason = reason;
            failed = _pending.ToArray();
            _pending.Clear();
            _output.Writer.Complete();
        }
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        _stream.Dispose();

        long now = Stopwatch.GetTimestamp();
        RedisConnectionException? lost = null;
        foreach (var pending in failed)
        {
            Exception error = reason;
            if (reason is RedisTimeoutException && now - pending.WrittenAt <= timeoutTicks)
                error = lost ??= new RedisConnectionException("The Redis connection was reset after an earlier command timed out.", reason);
            else if (reason is not (RedisTimeoutException or ObjectDisposedException or RedisConnectionException))
                error = lost ??= new RedisConnectionException($"The Redis {Role} connection was lost: {reason.Message}", reason);
            pending.TrySetException(error);
        }
        _onClosed(this, reason);
    }

    private async Task SendLoopAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                // Everything written since the last send goes out now: many pipelined commands per write.
                foreach (var segment in buffer) await _stream.WriteAsync(segment).ConfigureAwait(false);
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled) break;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Close(new RedisConnectionException($"The Redis {Role} connection was lost while writing: {e.Message}", e));
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task ReadLoopAsync()
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (true)
                    {
                        var reader = new SequenceReader<byte>(buffer);
                        if (!RespParser.TryParse(ref reader, out var reply)) break;
                        buffer = buffer.Slice(reader.Position);
                        if (_pushHandler is not null && IsPush(reply))
                        {
                            // A closed connection delivers nothing more: its successor's messages must not interleave
                            // with stale ones (the loop may have waited here on a full subscription queue).
                            if (IsClosed) break;
                            var push = _pushHandler(this, reply);
                            if (!push.IsCompletedSuccessfully) await push.ConfigureAwait(false);
                        }
                        else if (!Complete(reply))
                        {
                            throw new RespProtocolException("A reply arrived with no command waiting for it: " + reply);
                        }
                    }
                }
                finally
                {
                    _input.AdvanceTo(buffer.Start, buffer.End);
                }
                if (result.IsCompleted)
                {
                    error = new RedisConnectionException($"Redis closed the {Role} connection.");
                    break;
                }
            }
        }
        catch (Exception e)
        {
            error = e switch
            {
                RespProtocolException => new RedisConnectionException("Protocol error from Redis: " + e.Message, e),
                IOException or SocketException or ObjectDisposedException => new RedisConnectionException($"The Redis {Role} connection was lost: {e.Message}", e),
                _ => e,
            };
        }
        finally
        {
            await _input.CompleteAsync().ConfigureAwait(false);
        }
        Close(error ?? new RedisConnectionException($"The Redis {Role} connection was closed."));
    }

    private bool Complete(RedisResult reply)
    {
        lock (_sync)
        {
            if (!_pending.TryPeek(out var head)) return _closeReason is not null;
            // Continuations run asynchronously (PendingCommand's options), so completing under the lock is cheap.
            if (head.OnReply(reply)) _pending.Dequeue();
        }
        return true;
    }

    /// <summary>RESP2 pub/sub: <c>["message", channel, payload]</c> (and <c>pmessage</c>) are pushes, not replies.</summary>
    private static bool IsPush(RedisResult reply)
    {
        if (reply.Kind != RedisResultKind.Array || reply.IsNull) return false;
        var items = reply.ItemsArray;
        if (items.Length < 3 || items[0].Kind != RedisResultKind.BulkString) return false;
        var kind = items[0].AsBytes().Span;
        return kind.SequenceEqual("message"u8) || kind.SequenceEqual("pmessage"u8);
    }
}

using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;
using Tendril.Protocol.Errors;
using Tendril.Server.Streams;
using Tendril.Xml;

namespace Tendril.Server.Transport.WebSockets;

/// <summary>
/// RFC 7395: a WebSocket presented to <see cref="C2sStream"/> as the pipes it reads and writes. One receive loop
/// feeds every text message to the input pipe followed by <see cref="WebSocketFraming.Boundary"/>, so the stream's
/// parser — the only one — sees where each message ends and requires exactly one complete XML element in it (§3.3.3,
/// <see cref="WebSocketFraming.TryRead"/>); size, message type and whitespace keepalives are checked here. One send
/// loop cuts the output at the framing's message boundaries and sends one message per top-level element.
/// </summary>
public sealed class WebSocketTransport : XmppTransport
{
    private readonly WebSocket _socket;
    private readonly Pipe _input = new(new PipeOptions(useSynchronizationContext: false));
    private readonly Pipe _output = new(new PipeOptions(useSynchronizationContext: false));
    private readonly int _maxMessageBytes;
    private readonly bool _isSecure;
    private Task _receive = Task.CompletedTask;
    private Task _send = Task.CompletedTask;
    private C2sStream? _stream;
    private int _disposed;

    public WebSocketTransport(WebSocket socket, string remoteEndPoint, bool isSecure, XmlParserOptions parserOptions)
    {
        _socket = socket;
        Kind = "websocket";
        RemoteEndPoint = remoteEndPoint;
        _isSecure = isSecure;
        _maxMessageBytes = parserOptions.MaxStanzaBytes;
    }

    public override PipeReader Input => _input.Reader;

    public override PipeWriter Output => _output.Writer;

    public override string RemoteEndPoint { get; }

    public override bool IsSecure => _isSecure;

    internal override StreamFraming Framing => WebSocketFraming.Instance;

    internal override void Attach(C2sStream stream)
    {
        _stream = stream;
        _receive = ReceiveLoopAsync();
        _send = SendLoopAsync();
    }

    private async Task ReceiveLoopAsync()
    {
        var message = new ArrayBufferWriter<byte>(4096);
        var failed = false;
        try
        {
            while (true)
            {
                message.ResetWrittenCount();
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(message.GetMemory(4096), CancellationToken.None).ConfigureAwait(false);
                    message.Advance(result.Count);
                    if (message.WrittenCount > _maxMessageBytes)
                    {
                        if (!failed) await FailAsync(StreamErrorCondition.PolicyViolation, "Message larger than the stanza size limit.").ConfigureAwait(false);
                        failed = true;
                        message.ResetWrittenCount();
                    }
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close) break;
                // After an error, keep reading (and discarding) until the client answers our close (RFC 6455 §7.1.2).
                if (failed) continue;
                if (result.MessageType != WebSocketMessageType.Text)
                {
                    await FailAsync(StreamErrorCondition.BadFormat, "XMPP over WebSocket uses text messages (RFC 7395 §3.2).").ConfigureAwait(false);
                    failed = true;
                    continue;
                }
                // A whitespace-only message is a keepalive, not an element: nothing for the stream.
                if (message.WrittenSpan.Trim(" \t\r\n"u8).IsEmpty) continue;
                var writer = _input.Writer;
                writer.Write(message.WrittenSpan);
                writer.GetSpan(1)[0] = WebSocketFraming.Boundary;
                writer.Advance(1);
                // The stream stopped reading (it closed): discard the rest until the client answers our close.
                if ((await writer.FlushAsync().ConfigureAwait(false)).IsCompleted) failed = true;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
        await _input.Writer.CompleteAsync().ConfigureAwait(false);
    }

    private async ValueTask FailAsync(StreamErrorCondition condition, string text)
    {
        if (_stream is { } stream) await stream.CloseAsync(new StreamError(condition, text), "websocket: " + text).ConfigureAwait(false);
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
                while (buffer.PositionOf(WebSocketFraming.Boundary) is { } end)
                {
                    var message = buffer.Slice(0, end);
                    if (message.IsSingleSegment)
                    {
                        await _socket.SendAsync(message.First, WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
                    }
                    else
                    {
                        await _socket.SendAsync(message.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
                    }
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted || result.IsCanceled) break;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
        await reader.CompleteAsync().ConfigureAwait(false);
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        await Task.WhenAny(_send, Task.Delay(DrainTimeoutOf(_stream))).ConfigureAwait(false);
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(DrainTimeoutOf(_stream));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
        // Give the client a moment to answer the close handshake (RFC 6455 §7.1.2) before tearing down.
        await Task.WhenAny(_receive, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        _socket.Abort();
        await Task.WhenAny(_receive, Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}

using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;
using Tendril.Protocol.Errors;
using Tendril.Server.Streams;
using Tendril.Xml;

namespace Tendril.Server.Transport;

/// <summary>
/// RFC 7395: a WebSocket presented to <see cref="C2sStream"/> as the pipes it reads and writes. One receive loop
/// checks that every text message is exactly one complete XML element (§3.3.3) and feeds it to the input pipe; one
/// send loop cuts the output at the framing's message boundaries and sends one message per top-level element.
/// </summary>
public sealed class WebSocketTransport : XmppTransport
{
    private readonly WebSocket _socket;
    private readonly Pipe _input = new(new PipeOptions(useSynchronizationContext: false));
    private readonly Pipe _output = new(new PipeOptions(useSynchronizationContext: false));
    private readonly XmlStreamParser _checker;
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
        _checker = new XmlStreamParser(parserOptions with { FragmentMode = true });
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
                var check = Check(message.WrittenMemory);
                if (check == MessageCheck.Blank) continue;
                if (check != MessageCheck.OneElement)
                {
                    await FailAsync(StreamErrorCondition.NotWellFormed, check == MessageCheck.BadXml
                        ? "The message is not well-formed XML."
                        : "Every WebSocket message must be exactly one complete XML element (RFC 7395 §3.3.3).").ConfigureAwait(false);
                    failed = true;
                    continue;
                }
                await _input.Writer.WriteAsync(message.WrittenMemory).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
        await _input.Writer.CompleteAsync().ConfigureAwait(false);
    }

    private enum MessageCheck
    {
        OneElement,
        Blank,
        NotOneElement,
        BadXml,
    }

    private MessageCheck Check(ReadOnlyMemory<byte> message)
    {
        var span = message.Span;
        if (span.Trim(" \t\r\n"u8).IsEmpty) return MessageCheck.Blank;
        _checker.Reset();
        var buffer = new ReadOnlySequence<byte>(message);
        try
        {
            if (!_checker.TryRead(ref buffer, out _)) return MessageCheck.NotOneElement;
        }
        catch (XmlParseException)
        {
            return MessageCheck.BadXml;
        }
        return buffer.IsSingleSegment && buffer.FirstSpan.Trim(" \t\r\n"u8).IsEmpty ? MessageCheck.OneElement : MessageCheck.NotOneElement;
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
        await Task.WhenAny(_send, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
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

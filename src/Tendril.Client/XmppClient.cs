using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading.Channels;
using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Client;

/// <summary>
/// A compact XMPP client connection (RFC 6120/6121): TCP, STARTTLS or direct TLS, SASL (SCRAM-SHA-256, SCRAM-SHA-1,
/// PLAIN), resource binding; then one background read loop and a lock-guarded writer over pipes.
/// </summary>
/// <remarks>
/// <para>Incoming stanzas go, in order, to <see cref="StanzaReceived"/> (synchronously, on the read loop) and then to
/// <see cref="Stanzas"/>. Exceptions: responses to <see cref="SendIqAsync"/> complete that call; iq requests (get/set)
/// go to the handler registered with <see cref="SetIqHandler"/> — XEP-0199 pings are answered automatically and any
/// other unhandled request gets <c>service-unavailable</c> — and never appear in <see cref="Stanzas"/>.</para>
/// <para>The connection ends with a stream error (<see cref="Completion"/> faults with <see cref="XmppStreamException"/>),
/// an I/O error (faults with it), the server closing the stream (completes normally), or <see cref="DisposeAsync"/>.</para>
/// <para>Thread safety: <see cref="SendAsync"/> and the helpers built on it may be called concurrently; writes are
/// serialized and flushed once per burst (a writer that sees others waiting leaves the flush to the last one).</para>
/// </remarks>
public sealed partial class XmppClient : IAsyncDisposable
{
    private const int StateNew = 0, StateConnecting = 1, StateConnected = 2, StateClosed = 3;

    private readonly XmppClientOptions _options;
    private readonly XmlStreamParser _parser;
    private readonly Channel<XmlElement>? _stanzas;
    private readonly ConcurrentDictionary<string, PendingIq> _pendingIqs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Name, string Ns), Func<XmlElement, CancellationToken, ValueTask<XmlElement?>>> _iqHandlers = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _lifetime = new();
    private int _state;
    private long _nextId;
    private Task? _readLoop;

    public XmppClient(XmppClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Jid.Local is null) throw new ArgumentException("The JID must have a local part (user@domain).", nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.StanzaQueueCapacity);
        _options = options;
        _parser = new XmlStreamParser(new XmlParserOptions { MaxStanzaBytes = options.MaxStanzaBytes });
        if (options.StanzaQueueCapacity > 0)
        {
            _stanzas = Channel.CreateBounded<XmlElement>(new BoundedChannelOptions(options.StanzaQueueCapacity)
            {
                FullMode = options.StanzaQueueFullMode,
                SingleWriter = true,
                AllowSynchronousContinuations = false,
            });
        }
    }

    public XmppClientOptions Options => _options;

    /// <summary>The bound full JID (valid after <see cref="ConnectAsync"/>).</summary>
    public Jid Jid { get; private set; } = null!;

    /// <summary>The stream features of the final (authenticated) stream.</summary>
    public XmlElement StreamFeatures { get; private set; } = null!;

    public bool IsConnected => Volatile.Read(ref _state) == StateConnected;

    /// <summary>Completes when the connection has ended: normally after a clean close, faulted otherwise.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Every stanza not consumed by an iq response or handler, raised synchronously on the read loop (keep it short;
    /// an exception thrown here ends the connection).
    /// </summary>
    public event Action<XmppClient, XmlElement>? StanzaReceived;

    /// <summary>
    /// Raised once when an established connection ends (not when <see cref="ConnectAsync"/> fails); the exception is
    /// null after a clean close or <see cref="DisposeAsync"/>.
    /// </summary>
    public event Action<XmppClient, Exception?>? Disconnected;

    /// <summary>
    /// Incoming stanzas, bounded by <see cref="XmppClientOptions.StanzaQueueCapacity"/> with
    /// <see cref="XmppClientOptions.StanzaQueueFullMode"/> when full (default: stop reading the socket until there is room).
    /// Completed when the connection ends. Do not combine reading it with <see cref="WaitForAsync"/>.
    /// </summary>
    public ChannelReader<XmlElement> Stanzas =>
        _stanzas?.Reader ?? throw new InvalidOperationException("The stanza queue is disabled (StanzaQueueCapacity = 0).");

    /// <summary>A new stanza id, unique on this connection.</summary>
    public string NextId() => "t" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Connects, secures, authenticates and binds. On failure the connection is closed and the exception thrown:
    /// <see cref="XmppAuthenticationException"/> for SASL failures, <see cref="XmppStreamException"/> for stream
    /// errors, <see cref="XmppStanzaException"/> when bind is refused, <see cref="TimeoutException"/> after
    /// <see cref="XmppClientOptions.ConnectTimeout"/>, socket/TLS exceptions as they come.
    /// </summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, StateConnecting, StateNew) != StateNew)
            throw new InvalidOperationException("ConnectAsync may be called once per XmppClient.");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        cts.CancelAfter(_options.ConnectTimeout);
        try
        {
            await NegotiateAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Volatile.Write(ref _state, StateClosed);
            await CloseTransportAsync().ConfigureAwait(false);
            var error = ex is OperationCanceledException && !cancellationToken.IsCancellationRequested && !_lifetime.IsCancellationRequested
                ? new TimeoutException($"Connecting to {_options.Jid.Domain} took longer than {_options.ConnectTimeout}.", ex)
                : ex;
            Finish(error);
            if (ReferenceEquals(error, ex)) throw;
            throw error;
        }
        _wasConnected = true;
        Volatile.Write(ref _state, StateConnected);
        _readLoop = ReadLoopAsync();
    }

    /// <summary>
    /// Registers the handler of incoming iq requests (get/set) whose payload is <paramref name="name"/> in
    /// <paramref name="ns"/>. It returns the payload of the result (null: an empty result) or throws
    /// <see cref="XmppStanzaException"/> to answer with that error (any other exception: internal-server-error).
    /// Replaces the built-in XEP-0199 ping answer when registered for ping.
    /// </summary>
    public void SetIqHandler(string name, string ns, Func<XmlElement, CancellationToken, ValueTask<XmlElement?>>? handler)
    {
        if (handler is null) _iqHandlers.TryRemove((name, ns), out _);
        else _iqHandlers[(name, ns)] = handler;
    }

    /// <summary>
    /// Sends </stream:stream>, waits briefly for the server's closing tag, and closes the connection. Pending
    /// <see cref="SendIqAsync"/> calls fail with <see cref="ObjectDisposedException"/>.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        var previous = Interlocked.Exchange(ref _state, StateClosed);
        if (previous == StateConnected)
        {
            try
            {
                await SendCloseTagAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                if (_readLoop is not null) await Task.WhenAny(_readLoop, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or TimeoutException or InvalidOperationException or SocketException)
            {
                // The connection is already gone: nothing to say goodbye to.
            }
        }
        await _lifetime.CancelAsync().ConfigureAwait(false);
        await CloseTransportAsync().ConfigureAwait(false);
        if (_readLoop is not null) await _readLoop.ConfigureAwait(false);
        Finish(null);
        _lifetime.Dispose();
    }

    private int _disposed;

    /// <summary>Ends everything once: pending iqs, the stanza queue, <see cref="Completion"/>, <see cref="Disconnected"/>.</summary>
    private void Finish(Exception? error)
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0) return;
        var pendingError = error ?? new ObjectDisposedException(nameof(XmppClient), "The connection was closed.");
        foreach (var pending in _pendingIqs)
        {
            if (_pendingIqs.TryRemove(pending.Key, out var p)) p.TrySetException(pendingError);
        }
        _stanzas?.Writer.TryComplete();
        if (error is null)
        {
            _completion.TrySetResult();
        }
        else
        {
            _completion.TrySetException(error);
            _ = _completion.Task.Exception; // observed: callers who do not care need not await Completion
        }
        // Only a connection that was up can be "disconnected"; a failed ConnectAsync reports through its exception.
        if (_wasConnected) Disconnected?.Invoke(this, error);
    }

    private bool _wasConnected;

    private int _finished;

    private sealed class PendingIq(string? to) : TaskCompletionSource<XmlElement>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public string? To { get; } = to;
    }

    // ---- transport -----------------------------------------------------------------------------------------------

    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true);
    private static readonly StreamPipeWriterOptions WriterOptions = new(minimumBufferSize: 4096, leaveOpen: true);

    private Socket? _socket;
    private Stream? _stream;
    private PipeReader _reader = null!;
    private PipeWriter _writer = null!;
    private int _transportClosed;

    private void SetTransport(Stream stream)
    {
        _stream = stream;
        _reader = PipeReader.Create(stream, ReaderOptions);
        _writer = PipeWriter.Create(stream, WriterOptions);
    }

    private async ValueTask CloseTransportAsync()
    {
        if (Interlocked.Exchange(ref _transportClosed, 1) != 0) return;
        try
        {
            if (_stream is not null) await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
        }
        _socket?.Dispose();
    }
}

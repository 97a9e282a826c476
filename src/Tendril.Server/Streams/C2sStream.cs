using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Logging;
using Tendril.Server.Routing;
using Tendril.Server.Streams.States;
using Tendril.Server.Transport;
using Tendril.Xml;

namespace Tendril.Server.Streams;

/// <summary>
/// One client-to-server connection: a read loop that parses the byte stream and hands each event, strictly in order
/// (RFC 6120 §10.1), to the current negotiation state; and one writer loop draining the connection's outbound queue
/// (<see cref="C2sStream"/>.Output.cs). Timeouts come from the server's single heartbeat (.Keepalive.cs).
/// </summary>
public sealed partial class C2sStream
{
    private static long s_nextId;

    private readonly XmppServer _server;
    private readonly XmppTransport _transport;
    private readonly StreamFraming _framing;
    private readonly XmlStreamParser _parser;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly bool _directTls;
    private int _closing;
    private bool _restartRequested;
    private bool _tlsRequested;
    private string? _closeReason;
    private readonly TaskCompletionSource _readStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopReading;
    private bool _peerEnded;
    private bool _errorSent;

    private int _negotiating; // 1 while counted in the server's unauthenticated streams (ConnectionGate)

    internal C2sStream(XmppServer server, XmppTransport transport, bool directTls, string listener, bool negotiationCounted = false)
    {
        _negotiating = negotiationCounted ? 1 : 0;
        _server = server;
        _transport = transport;
        _directTls = directTls;
        Listener = listener;
        _logger = server.StreamLogger;
        Id = Interlocked.Increment(ref s_nextId);
        _framing = transport.Framing;
        _parser = new XmlStreamParser(_framing.FragmentMode ? server.ParserOptions with { FragmentMode = true } : server.ParserOptions);
        State = StartState.Instance;
        var now = server.Time.GetUtcNow();
        _openedAtTicks = now.UtcTicks;
        _lastReceivedTicks = now.UtcTicks;
        InitializeOutput();
        transport.Attach(this);
    }

    public long Id { get; }

    public string Listener { get; }

    public XmppServer Server => _server;

    internal XmppTransport Transport => _transport;

    public bool IsSecure => _transport.IsSecure;

    /// <summary>Whether STARTTLS can be offered on this transport (not over WebSocket or BOSH).</summary>
    public bool CanStartTls => _transport.CanStartTls;

    public string RemoteEndPoint => _transport.RemoteEndPoint;

    /// <summary>The transport binding ("tcp", later "websocket", "bosh").</summary>
    public string TransportName => _transport.Kind;

    /// <summary>When the connection was accepted.</summary>
    public DateTimeOffset OpenedAt => new(_openedAtTicks, TimeSpan.Zero);

    /// <summary>Completes when the read loop has ended (for any reason): nothing more will be routed from this stream.</summary>
    internal Task ReadStopped => _readStopped.Task;

    internal C2sState State { get; set; }

    /// <summary>The id of the current stream (new at every restart).</summary>
    public string StreamId { get; private set; } = "";

    /// <summary>The authenticated account's bare JID, once SASL succeeded.</summary>
    public Jid? User { get; internal set; }

    /// <summary>The bound session, once a resource is bound.</summary>
    public C2sSession? Session { get; internal set; }

    /// <summary>The language the client asked for in its stream header (xml:lang), echoed back.</summary>
    public string Language { get; internal set; } = "en";

    public bool IsClosing => Volatile.Read(ref _closing) != 0;

    internal int SaslFailures { get; set; }

    /// <summary>Runs the connection to its end. Never throws.</summary>
    internal async Task RunAsync()
    {
        _server.Heartbeat.Register(this);
        ServerLog.ConnectionOpened(_logger, Id, RemoteEndPoint, Listener);
        Task? writer = null;
        try
        {
            if (_directTls && !await UpgradeTlsAsync().ConfigureAwait(false)) return;
            writer = WriterLoopAsync();
            try
            {
                await ReadLoopAsync().ConfigureAwait(false);
            }
            finally
            {
                _readStopped.TrySetResult();
            }
            if (_stopReading && !IsClosing)
            {
                // Server shutdown, phase 1: reading stopped; the server sends system-shutdown once every stream has
                // finished routing what it read (phase 2). Keep the writer running until then.
                await _shutdownClose.Task.ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            ServerLog.ConnectionIoEnded(_logger, Id, ex.Message);
            SetCloseReason("connection lost: " + ex.Message);
        }
        catch (Exception ex)
        {
            // A bug in a handler must not take down anything but this connection.
            ServerLog.ConnectionError(_logger, Id, ex);
            await CloseAsync(new StreamError(StreamErrorCondition.InternalServerError), "internal error: " + ex.GetType().Name).ConfigureAwait(false);
        }
        finally
        {
            _readStopped.TrySetResult();
            await CloseAsync(null, _closeReason ?? "connection ended").ConfigureAwait(false);
            if (writer is not null)
            {
                // Let queued stanzas and the closing tag go out, but never wait on a peer that does not read.
                await Task.WhenAny(writer, Task.Delay(_server.DrainTimeout)).ConfigureAwait(false);
            }
            // After our stream error the session ends now, but the connection may stay a moment to read what the peer
            // still sends (XmppTransport.LingerAsync).
            var linger = writer is { IsCompletedSuccessfully: true } && _errorSent && !_peerEnded;
            if (!linger)
            {
                await _lifetime.CancelAsync().ConfigureAwait(false);
                await _transport.DisposeAsync().ConfigureAwait(false);
            }
            _server.SessionEnding(+1);
            _server.Heartbeat.Unregister(this);
            try
            {
                await EndSessionAsync().ConfigureAwait(false);
            }
            finally
            {
                _server.SessionEnding(-1);
                if (linger)
                {
                    await _transport.LingerAsync().ConfigureAwait(false);
                    await _lifetime.CancelAsync().ConfigureAwait(false);
                    await _transport.DisposeAsync().ConfigureAwait(false);
                }
            }
            EndNegotiation();
            ServerLog.ConnectionClosed(_logger, Id, Session?.JidString ?? User?.ToString() ?? "-", _closeReason ?? "connection ended");
            _lifetime.Dispose();
            _finished.TrySetResult();
        }
    }

    /// <summary>Shutdown, phase 1: stop reading input after the element being handled; the stream stays open for output.</summary>
    internal void StopReading()
    {
        _stopReading = true;
        SignalDrained();
        try { _transport.Input.CancelPendingRead(); } catch (InvalidOperationException) { }
    }

    private readonly TaskCompletionSource _shutdownClose = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Security.TokenBucket _readBucket, _stanzaBucket, _presenceBucket;

    /// <summary>
    /// Whether the session may send this stanza now (issue 19: Limits:StanzasPerSecond for messages and iq requests,
    /// Limits:PresencePerSecond for presence). Answers to the server's requests (iq result/error) always pass.
    /// </summary>
    internal bool AdmitStanza(XmlElement stanza)
    {
        var limits = _server.Options.Limits;
        var now = Security.TokenBucket.Seconds(_server.Time);
        if (stanza.Name == "presence")
        {
            // Going unavailable is never refused (the user must not stay shown online); it still counts.
            if (stanza.GetAttribute("type") != "unavailable") return _presenceBucket.TryTake(limits.PresencePerSecond, limits.PresenceBurst, now);
            _presenceBucket.Debit(limits.PresencePerSecond, limits.PresenceBurst, 1, now);
            return true;
        }
        if (stanza.Name == "iq" && stanza.GetAttribute("type") is "result" or "error") return true;
        return _stanzaBucket.TryTake(limits.StanzasPerSecond, limits.StanzaBurst, now);
    }

    /// <summary>Reads of a client faster than Limits:ReadBytesPerSecond wait (issue 19: slowed, not disconnected).</summary>
    private async ValueTask ShapeAsync(long consumed)
    {
        var limits = _server.Options.Limits;
        // The system clock: the wait is a real one (a test's hand-moved clock would never end it).
        var wait = _readBucket.Debit(limits.ReadBytesPerSecond, limits.ReadBurstBytes, consumed, System.Diagnostics.Stopwatch.GetTimestamp() / (double)System.Diagnostics.Stopwatch.Frequency);
        if (wait <= TimeSpan.Zero) return;
        _server.Metrics.InputShaped();
        try
        {
            await Task.Delay(wait, _lifetime.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // closing: the loop ends
        }
    }

    private async Task ReadLoopAsync()
    {
        while (!IsClosing && !_stopReading)
        {
            var input = _transport.Input;
            var result = await input.ReadAsync(_lifetime.Token).ConfigureAwait(false);
            if (result.IsCanceled) break;
            var buffer = result.Buffer;
            if (!buffer.IsEmpty) _lastReceivedTicks = _server.Time.GetUtcNow().UtcTicks;
            var tls = false;
            try
            {
                while (!IsClosing && !_stopReading)
                {
                    // Back-pressure (issue 19): a client whose answers pile up unread gets its next stanza parsed and
                    // handled only once they have drained; its input stays unread meanwhile.
                    if (OverOutputBudget)
                    {
                        await WaitForOutputDrainAsync().ConfigureAwait(false);
                        continue;
                    }
                    if (!_framing.TryRead(_parser, ref buffer, out var ev)) break;
                    await DispatchAsync(ev).ConfigureAwait(false);
                    if (_restartRequested)
                    {
                        // RFC 6120 §4.3.3: after SASL success the next bytes start a new stream; whitespace left
                        // over from the old one (…</auth>\n) may precede its XML declaration.
                        _restartRequested = false;
                        _parser.Restart();
                    }
                    if (_tlsRequested)
                    {
                        tls = true;
                        break;
                    }
                }
            }
            catch (XmlParseException ex)
            {
                input.AdvanceTo(result.Buffer.End);
                await CloseAsync(new StreamError(MapParseError(ex.Error), ex.Message), "bad XML: " + ex.Message).ConfigureAwait(false);
                break;
            }
            var consumed = tls ? result.Buffer.Length : result.Buffer.Length - buffer.Length;
            if (tls)
            {
                // Bytes after <starttls/> were sent in the clear before <proceed/>: they are discarded (RFC 6120 §5.4.3.3).
                input.AdvanceTo(result.Buffer.End);
                _tlsRequested = false;
                if (!await UpgradeTlsAsync().ConfigureAwait(false)) break;
                _parser.Reset();
                continue;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                _peerEnded = true;
                SetCloseReason("peer closed the connection");
                break;
            }
            if (consumed > 0) await ShapeAsync(consumed).ConfigureAwait(false);
        }
    }

    private ValueTask DispatchAsync(XmlStreamEvent parsed)
    {
        var ev = _framing.MapInput(parsed);
        return ev.Kind switch
        {
            XmlStreamEventKind.StreamStart => State.OnStreamStartAsync(this, ev.Element!, ev.DefaultNamespace),
            XmlStreamEventKind.Stanza => State.OnElementAsync(this, ev.Element!),
            _ => ClientClosed(),
        };
    }

    private ValueTask ClientClosed()
    {
        // XEP-0198 §5: a cleanly closed stream cannot be resumed.
        _smNoResume = true;
        _peerEnded = true;
        return CloseAsync(null, "client closed the stream");
    }

    internal static StreamErrorCondition MapParseError(XmlParseError error) => error switch
    {
        XmlParseError.RestrictedXml => StreamErrorCondition.RestrictedXml,
        XmlParseError.StanzaTooLarge or XmlParseError.TooDeep or XmlParseError.TooManyAttributes or XmlParseError.NameTooLong => StreamErrorCondition.PolicyViolation,
        XmlParseError.UnsupportedEncoding => StreamErrorCondition.UnsupportedEncoding,
        _ => StreamErrorCondition.NotWellFormed,
    };

    private string? _lastAddressText;
    private Jid? _lastAddress;

    /// <summary>
    /// Parses a stanza's 'to' (null when it is not a valid JID). A client mostly writes to the address it wrote to
    /// last (a chat, an iq exchange), so the last result is reused when the text is the same: routing a message then
    /// allocates no JID. Called only from the read loop.
    /// </summary>
    internal Jid? ParseAddress(string text)
    {
        if (_lastAddress is not null && string.Equals(text, _lastAddressText, StringComparison.Ordinal)) return _lastAddress;
        if (!Jid.TryParse(text, out var jid)) return null;
        _lastAddressText = text;
        _lastAddress = jid;
        return jid;
    }

    /// <summary>Begins a new stream id (at every stream header from the client).</summary>
    internal string NewStreamId()
    {
        Span<byte> bytes = stackalloc byte[12];
        RandomNumberGenerator.Fill(bytes);
        return StreamId = Convert.ToHexStringLower(bytes);
    }

    /// <summary>SASL succeeded or the stream ended: it no longer counts against the unauthenticated-connection limit.</summary>
    internal void EndNegotiation()
    {
        if (Interlocked.Exchange(ref _negotiating, 0) == 1) _server.Connections.EndNegotiation();
    }

    /// <summary>Asks the read loop to reset the parser once the current element is handled (stream restart).</summary>
    internal void RequestRestart()
    {
        State = StartState.Instance;
        _restartRequested = true;
    }

    /// <summary>Sends &lt;proceed/&gt; and asks the read loop to switch to TLS once the current element is handled.</summary>
    internal async ValueTask BeginStartTlsAsync()
    {
        await SendAsync(new XmlElement("proceed", Ns.Tls)).ConfigureAwait(false);
        State = StartState.Instance;
        _tlsRequested = true;
    }

    private async ValueTask<bool> UpgradeTlsAsync()
    {
        var barrier = _writerStarted ? EnqueueBarrier() : null;
        try
        {
            if (barrier is not null) await barrier.Flushed.Task.ConfigureAwait(false);
            _tlsStartedTicks = _server.Time.GetUtcNow().UtcTicks;
            await _transport.UpgradeToTlsAsync(_server.CertificateContext, _lifetime.Token).ConfigureAwait(false);
            _tlsStartedTicks = 0;
            ServerLog.TlsEstablished(_logger, Id, _transport.TlsProtocol.ToString());
            return true;
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // A failed handshake cannot carry a stream error: the connection is just closed.
            SetCloseReason("TLS handshake failed: " + ex.Message);
            Interlocked.Exchange(ref _closing, 1);
            _outbound.Complete();
            return false;
        }
        finally
        {
            barrier?.Resume.TrySetResult();
        }
    }

    /// <summary>
    /// Closes the stream once: sends the stream error if any (after a stream header if none was sent yet, RFC 6120
    /// §4.9.1.2), then the closing tag; the connection ends when the writer has flushed. Safe from any thread.
    /// </summary>
    public ValueTask CloseAsync(StreamError? error, string reason) => CloseAsync(error, reason, null);

    /// <summary>Closes with a stream error that carries an application-specific condition (RFC 6120 §4.9.4).</summary>
    public ValueTask CloseAsync(StreamError? error, string reason, XmlElement? applicationCondition)
    {
        if (Interlocked.CompareExchange(ref _closing, 1, 0) != 0) return ValueTask.CompletedTask;
        SetCloseReason(error is { } e ? $"{e.ConditionName}: {reason}" : reason);
        if (error is { } err)
        {
            if (!_headerSent) EnqueueControl(new Outbound(OutboundKind.Raw, BuildHeader(null)));
            var element = new XmlElement("error", Ns.Streams).Add(err.ToCondition());
            if (err.ToText() is { } text) element.Add(text);
            if (applicationCondition is not null) element.Add(applicationCondition);
            // A session that the server ends with an error is not kept for resumption (a lost peer is).
            if (err.Condition != StreamErrorCondition.ConnectionTimeout) _smNoResume = true;
            EnqueueControl(new Outbound(OutboundKind.StreamElement, element));
            _errorSent = true;
        }
        else if (!_headerSent && _writerStarted)
        {
            EnqueueControl(new Outbound(OutboundKind.Raw, BuildHeader(null)));
        }
        EnqueueControl(new Outbound(OutboundKind.End, null));
        _outbound.Complete();
        // In the middle of a TLS handshake nothing can be written (no stream error, no closing tag): the connection is
        // cut, which ends the handshake. Whoever closes — a timeout, a kick, a stop — would otherwise leave it open for
        // good (the hostile-input suite found handshakes stalled past the negotiation timeout held so, issue 19).
        if (Volatile.Read(ref _tlsStartedTicks) != 0) CancelLifetime();
        _shutdownClose.TrySetResult();
        SignalDrained(); // a read loop waiting on the output budget stops waiting
        State = ClosedState.Instance;
        try { _transport.Input.CancelPendingRead(); } catch (InvalidOperationException) { }
        return ValueTask.CompletedTask;
    }

    /// <summary>An element that is not allowed before the stream is authenticated and bound (RFC 6120 §4.9.3.12, §7.1).</summary>
    public ValueTask CloseNotAuthorizedAsync(XmlElement element) =>
        CloseAsync(new StreamError(StreamErrorCondition.NotAuthorized, $"<{element.Name}/> is not allowed before the stream is authenticated and bound."), $"<{element.Name}/> before negotiation finished");

    private void SetCloseReason(string reason)
    {
        _closeReason ??= reason;
    }


    /// <summary>Unbinds the session and lets everyone who saw it available know it is gone (RFC 6121 §4.6.3).</summary>
    private async ValueTask EndSessionAsync()
    {
        var session = Session;
        if (session is null) return;
        if (session.Stream != this) return; // resumed by another connection
        if (TryHibernate(session)) return;
        var sm = _sm;
        if (sm is not null)
        {
            // Unacknowledged stanzas were perhaps never received: treated as undeliverable (XEP-0198 §7) — stored
            // offline while the session is still bound, so they keep their place before anything sent to the account
            // later (a clean close or no resumption: the session ends now).
            sm.ReturnUnwritten(DrainUnwritten());
            await _server.StreamManagement.FlushBeforeEndAsync(sm).ConfigureAwait(false);
        }
        session.IsClosed = true;
        if (_server.Sessions.Unbind(session))
        {
            if (_server.Cluster.IsClustered) await _server.Cluster.SessionUnboundAsync(session).ConfigureAwait(false);
            await PresenceBroadcaster.BroadcastUnavailableOnCloseAsync(_server, session).ConfigureAwait(false);
        }
        if (sm is not null)
        {
            sm.ReturnUnwritten(DrainUnwritten());
            await _server.StreamManagement.ForgetAsync(sm).ConfigureAwait(false);
        }
        try
        {
            await _server.Features.RaiseSessionClosedAsync(session).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ServerLog.ConnectionError(_logger, Id, ex);
        }
    }
}

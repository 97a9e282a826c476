using System.Buffers;
using System.IO.Pipelines;
using System.Security;
using System.Text;
using Tendril.Server.Configuration;
using Tendril.Server.Streams;
using Tendril.Server.Transport;
using Tendril.Xml;

namespace Tendril.Server.Transport.Bosh;

/// <summary>
/// One BOSH session (XEP-0124 + XEP-0206), presented to <see cref="C2sStream"/> as a transport with the RFC 7395
/// framing: the session creation and every <c>xmpp:restart</c> feed an <c>&lt;open/&gt;</c>, a terminate feeds
/// <c>&lt;close/&gt;</c>, the children of each request body are fed in <c>rid</c> order. What the stream writes
/// (one element per message boundary) is queued and handed to the oldest held request. The stream's header becomes
/// the creation response's <c>authid</c>; its <c>&lt;close/&gt;</c> a <c>type='terminate'</c> body.
/// </summary>
internal sealed class BoshSession : XmppTransport
{
    public const string HttpBindNs = "http://jabber.org/protocol/httpbind";

    // Input pushes back on a request only past 1 MiB unread: while the stream's output is over its budget the stream
    // stops reading, and a request blocked feeding would keep later rids (which must wait their turn) from being
    // held to take that output.
    private readonly Pipe _input = new(new PipeOptions(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false));
    private readonly Pipe _output = new(new PipeOptions(useSynchronizationContext: false));
    private readonly Lock _lock = new();
    private readonly Dictionary<long, TaskCompletionSource> _turns = [];
    private readonly LinkedList<Held> _held = new();
    private readonly List<string> _pending = [];
    private int _pendingChars;
    private TaskCompletionSource? _pumpWaiter; // the pump, waiting for a request to take what is pending

    /// <summary>
    /// Output collected while no request is held stops here: the pump stops reading the stream's pipe, so the stream's
    /// writer, then its queue's byte budget, push back (issue 19) instead of strings piling up in <see cref="_pending"/>.
    /// </summary>
    private const int PendingLimitChars = 64 * 1024;
    private readonly Dictionary<long, string> _answered = [];
    private readonly BoshRegistry _registry;
    private readonly TimeProvider _time;
    private readonly bool _isSecure;
    private C2sStream? _stream;
    private Task _pump = Task.CompletedTask;
    private long _lastFedRid;
    private int _inFlight;
    private long _lastEmptyTicks;
    private long _idleSinceTicks;
    private bool _streamClosed;
    private bool _streamError;
    private bool _creationAnswered;
    private string _authId = "";
    private int _disposed;

    private sealed record Held(long Rid, TaskCompletionSource<string> Response, bool Terminal);

    public BoshSession(BoshRegistry registry, string sid, long rid, int wait, int hold, string remoteEndPoint, bool isSecure, TimeProvider time)
    {
        _registry = registry;
        Kind = "bosh";
        Sid = sid;
        _lastFedRid = rid - 1;
        Wait = wait;
        Hold = hold;
        Requests = hold + 1;
        RemoteEndPoint = remoteEndPoint;
        _isSecure = isSecure;
        _time = time;
        _idleSinceTicks = time.GetUtcNow().UtcTicks;
    }

    public string Sid { get; }

    public int Wait { get; }

    public int Hold { get; }

    /// <summary>Simultaneous requests allowed (hold + 1, XEP-0124 §7.1).</summary>
    public int Requests { get; }

    public override PipeReader Input => _input.Reader;

    public override PipeWriter Output => _output.Writer;

    public override string RemoteEndPoint { get; }

    public override bool IsSecure => _isSecure;

    internal override StreamFraming Framing => WebSocketFraming.Bosh;

    internal override void Attach(C2sStream stream)
    {
        _stream = stream;
        _pump = PumpAsync();
    }

    /// <summary>True when no request is held and the client has been silent longer than the inactivity limit.</summary>
    public bool IsInactive(long nowTicks, int inactivitySeconds)
    {
        lock (_lock) return _inFlight == 0 && nowTicks - _idleSinceTicks > TimeSpan.TicksPerSecond * inactivitySeconds;
    }

    /// <summary>
    /// Handles one request of this session (XEP-0124 §14: rid window, repeats, order; §11–12: hold and overactivity).
    /// Returns the response body.
    /// </summary>
    public async Task<string> HandleAsync(XmlElement body, long rid, bool creation, BoshOptions options, CancellationToken cancellationToken)
    {
        TaskCompletionSource? turn = null;
        var resent = false;
        lock (_lock)
        {
            if (!creation)
            {
                // §14.3: a repeated rid gets the same response again (a request or its answer was lost).
                if (_answered.TryGetValue(rid, out var previous)) return previous;
                if (_streamClosed) return Terminate("item-not-found");
                if (rid <= _lastFedRid)
                {
                    // Fed but not answered yet: the client gave up on the held connection and resends it. The new
                    // request takes its place.
                    var old = FindHeld(rid);
                    if (old is null) return TerminateSession("item-not-found", "rid already answered and forgotten");
                    _held.Remove(old);
                    old.Value.Response.TrySetResult(EmptyBody());
                    resent = true;
                }
                // §14.2: beyond the window of simultaneous requests.
                else if (rid > _lastFedRid + Requests) return TerminateSession("item-not-found", $"rid {rid} outside the window");
                if (!resent && _inFlight >= Requests) return TerminateSession("policy-violation", "too many simultaneous requests");
                // §12: polling too often with empty requests when nothing can be held.
                var now = _time.GetUtcNow().UtcTicks;
                if (Hold == 0 && !body.HasChildren && body.GetAttribute("type") is null && body.GetAttribute("restart", BoshEndpoints.XboshNs) is null)
                {
                    if (_lastEmptyTicks != 0 && now - _lastEmptyTicks < TimeSpan.TicksPerSecond * options.Polling)
                    {
                        return TerminateSession("policy-violation", "polling too often");
                    }
                    _lastEmptyTicks = now;
                }
                if (!resent && rid != _lastFedRid + 1)
                {
                    turn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _turns[rid] = turn;
                }
            }
            _inFlight++;
        }
        try
        {
            var terminal = body.GetAttribute("type") == "terminate";
            if (resent) return await HoldAsync(rid, terminal, cancellationToken).ConfigureAwait(false);
            if (turn is not null)
            {
                // §14.2: requests are processed in rid order; a later one waits for the missing ones.
                try
                {
                    await turn.Task.WaitAsync(TimeSpan.FromSeconds(Wait), cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    lock (_lock) _turns.Remove(rid);
                    return TerminateSession("item-not-found", $"rid {rid}: earlier requests never arrived");
                }
            }
            await FeedAsync(body, creation).ConfigureAwait(false);
            lock (_lock)
            {
                _lastFedRid = rid;
                if (_turns.Remove(rid + 1, out var next)) next.TrySetResult();
            }
            return await HoldAsync(rid, terminal, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _inFlight--;
                _idleSinceTicks = _time.GetUtcNow().UtcTicks;
            }
        }
    }

    private LinkedListNode<Held>? FindHeld(long rid)
    {
        for (var n = _held.First; n is not null; n = n.Next) if (n.Value.Rid == rid) return n;
        return null;
    }

    /// <summary>Holds a request until there is something to send, a newer request pushes it out, or 'wait' passes.</summary>
    /// <param name="terminal">A terminate request: answered only by the terminate body, when the stream has ended (§13).</param>
    private async Task<string> HoldAsync(long rid, bool terminal, CancellationToken cancellationToken)
    {
        var held = new Held(rid, new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously), terminal);
        lock (_lock)
        {
            _held.AddLast(held);
            Deliver();
            // §11: never hold more than 'hold' requests: the oldest is answered (empty if nothing is pending).
            // The creation response waits for the stream's features (its authid comes from the stream header).
            while (_held.Count > Hold && _creationAnswered && FirstOpen() is { } oldest) Respond(oldest.Value, EmptyBody());
        }
        try
        {
            return await held.Response.Task.WaitAsync(TimeSpan.FromSeconds(Wait), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            lock (_lock)
            {
                if (held.Response.Task.IsCompleted) return held.Response.Task.Result;
                _held.Remove(held);
                var empty = EmptyBody();
                Remember(rid, empty);
                return empty;
            }
        }
    }

    /// <summary>The payload of a request, as stream input (RFC 7395 framing elements for start, restart and end).</summary>
    private async Task FeedAsync(XmlElement body, bool creation)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        var restart = body.GetAttribute("restart", BoshEndpoints.XboshNs) is "true" or "1";
        if (creation || restart)
        {
            var open = new XmlElement("open", WebSocketFraming.Namespace)
                .SetAttribute("to", body.GetAttribute("to") ?? "")
                .SetAttribute("version", "1.0");
            if (body.GetAttribute("lang", XmlNamespaces.Xml) is { } lang) open.SetAttribute("lang", lang, XmlNamespaces.Xml);
            if (body.GetAttribute("from") is { } from) open.SetAttribute("from", from);
            XmlWriter.Write(buffer, open);
        }
        foreach (var child in body.Elements()) XmlWriter.Write(buffer, child);
        if (body.GetAttribute("type") == "terminate") XmlWriter.Write(buffer, new XmlElement("close", WebSocketFraming.Namespace));
        if (buffer.WrittenCount > 0) await _input.Writer.WriteAsync(buffer.WrittenMemory).ConfigureAwait(false);
    }

    /// <summary>Collects what the stream writes: one element per boundary.</summary>
    private async Task PumpAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                TaskCompletionSource? waiter = null;
                lock (_lock)
                {
                    while (buffer.PositionOf(WebSocketFraming.Boundary) is { } end)
                    {
                        Collect(Encoding.UTF8.GetString(buffer.Slice(0, end)));
                        buffer = buffer.Slice(buffer.GetPosition(1, end));
                    }
                    Deliver();
                    if (_pendingChars > PendingLimitChars && !_streamClosed && _disposed == 0)
                    {
                        waiter = _pumpWaiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    }
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted || result.IsCanceled) break;
                if (waiter is not null) await waiter.Task.ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
        }
        lock (_lock)
        {
            _streamClosed = true;
            Deliver();
        }
        _registry.Remove(this);
        await reader.CompleteAsync().ConfigureAwait(false);
    }

    private void Collect(string element)
    {
        if (element.StartsWith("<open ", StringComparison.Ordinal))
        {
            // The stream header: its id is the session's authid (XEP-0206 §4); the client never sees <open/>.
            var start = element.IndexOf(" id='", StringComparison.Ordinal) + 5;
            _authId = element[start..element.IndexOf('\'', start)];
            return;
        }
        if (element.StartsWith("<close ", StringComparison.Ordinal))
        {
            _streamClosed = true;
            return;
        }
        if (element.StartsWith("<stream:error", StringComparison.Ordinal)) _streamError = true;
        _pending.Add(element);
        _pendingChars += element.Length;
    }

    /// <summary>Hands pending output to the oldest held request; at the end of the stream, terminates every held request.</summary>
    private void Deliver()
    {
        if (_streamClosed)
        {
            var condition = _streamError ? "remote-stream-error" : null;
            while (_held.First is { } first)
            {
                Respond(first.Value, Body(_pending, "terminate", condition));
                ClearPending();
            }
            ReleasePump();
            return;
        }
        if (_pending.Count == 0 || FirstOpen() is not { } oldest) return;
        Respond(oldest.Value, Body(_pending, null, null));
        ClearPending();
    }

    private void ClearPending()
    {
        _pending.Clear();
        _pendingChars = 0;
        ReleasePump();
    }

    /// <summary>Under the lock: a pump waiting for a request to take pending output reads on.</summary>
    private void ReleasePump()
    {
        _pumpWaiter?.TrySetResult();
        _pumpWaiter = null;
    }

    private LinkedListNode<Held>? FirstOpen()
    {
        for (var n = _held.First; n is not null; n = n.Next) if (!n.Value.Terminal) return n;
        return null;
    }

    private void Respond(Held held, string body)
    {
        _held.Remove(held);
        Remember(held.Rid, body);
        held.Response.TrySetResult(body);
    }

    /// <summary>Keeps answers for the window of rids a client may resend (§14.3).</summary>
    private void Remember(long rid, string body)
    {
        _answered[rid] = body;
        if (_answered.Count > 2 * Requests + 2)
        {
            var oldest = _answered.Keys.Min();
            _answered.Remove(oldest);
        }
    }

    private string EmptyBody() => Body([], null, null);

    private string Body(List<string> payloads, string? type, string? condition)
    {
        var creation = !_creationAnswered;
        _creationAnswered = true;
        var xml = new StringBuilder("<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' xmlns:stream='http://etherx.jabber.org/streams'");
        if (creation)
        {
            var o = _registry.Options;
            xml.Append(" sid='").Append(Sid).Append('\'')
                .Append(" wait='").Append(Wait).Append("' hold='").Append(Hold).Append("' requests='").Append(Requests).Append('\'')
                .Append(" inactivity='").Append(o.Inactivity).Append("' polling='").Append(o.Polling).Append('\'')
                .Append(" ver='1.11' from='").Append(SecurityElement.Escape(_registry.Domain)).Append('\'')
                .Append(" authid='").Append(_authId).Append("' xmpp:version='1.0' xmpp:restartlogic='true'");
        }
        if (type is not null) xml.Append(" type='").Append(type).Append('\'');
        if (condition is not null) xml.Append(" condition='").Append(condition).Append('\'');
        if (payloads.Count == 0) return xml.Append("/>").ToString();
        xml.Append('>');
        foreach (var p in payloads) xml.Append(p);
        return xml.Append("</body>").ToString();
    }

    /// <summary>A terminal binding error (XEP-0124 §17.2) for a request that belongs to no usable session.</summary>
    public static string Terminate(string condition) =>
        $"<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='{condition}'/>";

    /// <summary>Ends the session with a binding error: held requests and this one get the terminate body.</summary>
    public string TerminateSession(string condition, string reason)
    {
        lock (_lock)
        {
            _streamClosed = true;
            var body = Terminate(condition);
            while (_held.First is { } first) Respond(first.Value, body);
            ReleasePump();
        }
        _registry.Remove(this);
        if (_stream is { } stream) _ = stream.CloseAsync(null, "bosh: " + reason);
        return Terminate(condition);
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        lock (_lock) ReleasePump();
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        await Task.WhenAny(_pump, Task.Delay(DrainTimeoutOf(_stream))).ConfigureAwait(false);
        await _input.Writer.CompleteAsync().ConfigureAwait(false);
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
    }
}

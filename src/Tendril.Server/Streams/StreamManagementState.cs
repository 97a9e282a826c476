using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Streams;

/// <summary>
/// XEP-0198 state of one session; it travels with the session when a new connection resumes it. The outbound side is
/// one list: first the stanzas written but not yet acknowledged (in the order written), then — while the session
/// hibernates or its connection is closing — the stanzas routed to it since, never written. Once the session has ended
/// for good the list is sealed: nothing more is added (the router bounces instead of losing it). Counters are the XEP's 32-bit wrapping 'h' values.
/// </summary>
public sealed class StreamManagementState
{
    private readonly Lock _gate = new();
    private readonly List<Outbound> _unacked = [];
    private uint _sent;
    private uint _acked;
    private bool _requestOutstanding;
    private bool _sealed;
    private long _bytes; // of everything in _unacked (Outbound.Bytes)

    internal StreamManagementState(C2sSession session, string? resumeId, XmlElement ackRequest)
    {
        Session = session;
        ResumeId = resumeId;
        AckRequest = ackRequest;
    }

    /// <summary>What the writer sends to ask for an acknowledgement (XEP-0198 &lt;r/&gt;).</summary>
    internal XmlElement AckRequest { get; }

    public C2sSession Session { get; }

    /// <summary>The id a new stream resumes with; null when resumption was not requested.</summary>
    public string? ResumeId { get; }

    /// <summary>Stanzas handled from the client (inbound h). Read loop only.</summary>
    public uint Handled { get; internal set; }

    /// <summary>When hibernation began (UTC ticks), 0 while a connection carries the session.</summary>
    internal long HibernatedAtTicks { get; set; }

    public int Count
    {
        get { lock (_gate) return _unacked.Count; }
    }

    /// <summary>About how many bytes the kept stanzas (unacknowledged and pending) take serialized.</summary>
    internal long Bytes
    {
        get { lock (_gate) return _bytes; }
    }

    private void RemoveFront(int count)
    {
        for (var i = 0; i < count; i++) _bytes -= _unacked[i].Bytes;
        _unacked.RemoveRange(0, count);
    }

    private List<Outbound> TakeRest()
    {
        var rest = new List<Outbound>(_unacked);
        _unacked.Clear();
        _bytes = 0;
        return rest;
    }

    /// <summary>Writer loop: a stanza went out. Returns how many stanzas are now waiting for an ack.</summary>
    internal int RecordSent(Outbound item)
    {
        lock (_gate)
        {
            _unacked.Insert((int)(_sent - _acked), item);
            _bytes += item.Bytes;
            _sent++;
            return (int)(_sent - _acked);
        }
    }

    /// <summary>Writer loop, end of a batch: true when an &lt;r/&gt; should follow (stanzas unacked and none asked for yet).</summary>
    internal bool ShouldRequest()
    {
        lock (_gate)
        {
            if (_requestOutstanding || _sent == _acked) return false;
            _requestOutstanding = true;
            return true;
        }
    }

    /// <summary>
    /// Processes the client's h. False when it acknowledges more than was sent (handled-count-too-high). Sets
    /// <paramref name="requestAgain"/> when stanzas written meanwhile remain unacknowledged: a new &lt;r/&gt; is due now,
    /// since the writer asks only when no request is outstanding.
    /// </summary>
    public bool Acknowledge(uint h, out bool requestAgain)
    {
        lock (_gate)
        {
            requestAgain = false;
            var delta = h - _acked;
            if (delta > _sent - _acked) return false;
            RemoveFront((int)delta);
            _acked = h;
            requestAgain = _sent != _acked;
            _requestOutstanding = requestAgain;
            return true;
        }
    }

    /// <summary>
    /// While hibernating or closing: keeps a stanza routed to the session; false beyond <paramref name="limit"/> stanzas
    /// or <paramref name="byteLimit"/> bytes (one stanza alone is always kept), or once sealed.
    /// </summary>
    internal bool TryAddPending(Outbound item, int limit, long byteLimit)
    {
        lock (_gate)
        {
            if (_sealed || _unacked.Count >= limit || (_unacked.Count > 0 && _bytes + item.Bytes > byteLimit)) return false;
            _unacked.Add(item);
            _bytes += item.Bytes;
            return true;
        }
    }

    /// <summary>Puts stanzas that were queued on the dead connection but never written back in front of the pending ones.</summary>
    internal void ReturnUnwritten(List<Outbound> items)
    {
        lock (_gate)
        {
            _unacked.InsertRange((int)(_sent - _acked), items);
            foreach (var item in items) _bytes += item.Bytes;
        }
    }

    /// <summary>
    /// Resumption: applies the client's h and returns everything still to deliver (unacked, then pending). The counters
    /// restart from h, so the re-sent stanzas are counted again on the new connection. Null when h is too high.
    /// </summary>
    internal List<Outbound>? TakeForResume(uint h)
    {
        lock (_gate)
        {
            var delta = h - _acked;
            if (delta > _sent - _acked) return null;
            RemoveFront((int)delta);
            var rest = TakeRest();
            _acked = _sent = h;
            _requestOutstanding = false;
            return rest;
        }
    }

    /// <summary>Stanzas held but never written (routed to the session while no connection carried it).</summary>
    internal List<Outbound> TakeUnwritten()
    {
        lock (_gate)
        {
            var start = (int)(_sent - _acked);
            var rest = _unacked.GetRange(start, _unacked.Count - start);
            _unacked.RemoveRange(start, rest.Count);
            foreach (var item in rest) _bytes -= item.Bytes;
            return rest;
        }
    }

    /// <summary>The session ends for good: everything not acknowledged, for offline storage or bouncing.</summary>
    internal List<Outbound> TakeAll()
    {
        lock (_gate)
        {
            var rest = TakeRest();
            _acked = _sent;
            return rest;
        }
    }

    /// <summary>The session has ended (unbound): takes what is left and refuses anything added later.</summary>
    internal List<Outbound> TakeAllAndSeal()
    {
        lock (_gate)
        {
            _sealed = true;
            var rest = TakeRest();
            _acked = _sent;
            return rest;
        }
    }

    public uint Sent
    {
        get { lock (_gate) return _sent; }
    }
}

using Tendril.Protocol;
using Tendril.Server.Streams;
using Tendril.Xml;

namespace Tendril.Server.Routing;

/// <summary>A bound resource: what the router knows about one client session (RFC 6120 §7).</summary>
public sealed class C2sSession : IBoundResource
{
    private readonly Lock _gate = new();
    private HashSet<Jid>? _directedPresence;

    internal C2sSession(C2sStream stream, Jid jid, DateTimeOffset boundAt)
    {
        _stream = stream;
        Jid = jid;
        JidString = jid.ToString();
        BoundAt = boundAt;
    }

    /// <summary>The full JID.</summary>
    public Jid Jid { get; }

    /// <summary>The full JID as sent in 'from' attributes (cached: stamping allocates nothing).</summary>
    public string JidString { get; }

    private C2sStream _stream;

    /// <summary>The connection carrying the session; another one takes over when it resumes it (XEP-0198).</summary>
    public C2sStream Stream
    {
        get => Volatile.Read(ref _stream);
        internal set => Volatile.Write(ref _stream, value);
    }

    public DateTimeOffset BoundAt { get; }

    /// <summary>True once the client sent initial presence and until it sends unavailable presence (RFC 6121 §4.2, §4.5).</summary>
    public bool IsAvailable { get; internal set; }

    /// <summary>Priority from the last broadcast presence (RFC 6121 §4.7.2.3); 0 by default.</summary>
    public int Priority { get; internal set; }

    /// <summary>The last broadcast available presence, stamped.</summary>
    public XmlElement? LastPresence { get; internal set; }

    /// <summary>True after the session was replaced or closed; no stanza is delivered to it any more.</summary>
    public bool IsClosed { get; internal set; }

    /// <summary>Queues a stanza for this client. False when its outbound queue is full or it is closing (back-pressure).</summary>
    public bool TryDeliver(XmlElement stanza) => Stream.TryEnqueueRouted(stanza);

    /// <summary>Notes directed available presence to <paramref name="to"/>; true when it is new.</summary>
    internal bool AddDirectedPresence(Jid to)
    {
        lock (_gate) return (_directedPresence ??= []).Add(to);
    }

    /// <summary>Forgets <paramref name="to"/> (directed unavailable presence); true when it was there.</summary>
    internal bool RemoveDirectedPresence(Jid to)
    {
        lock (_gate) return _directedPresence?.Remove(to) == true;
    }

    /// <summary>The entities that received directed available presence, without clearing them.</summary>
    public Jid[] DirectedPresence()
    {
        lock (_gate) return _directedPresence is null || _directedPresence.Count == 0 ? [] : [.. _directedPresence];
    }

    /// <summary>Takes the set of entities that received directed available presence (RFC 6121 §4.6), clearing it.</summary>
    internal Jid[] TakeDirectedPresence()
    {
        lock (_gate)
        {
            if (_directedPresence is null || _directedPresence.Count == 0) return [];
            var result = _directedPresence.ToArray();
            _directedPresence.Clear();
            return result;
        }
    }

    C2sSession? IBoundResource.Local => this;

    public override string ToString() => JidString;
}

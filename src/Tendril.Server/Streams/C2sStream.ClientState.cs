using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Streams;

/// <summary>
/// XEP-0352 client state indication. While the client says it is inactive, presence updates (only the latest per
/// sender is kept) and chat-state-only messages (XEP-0085 notifications without a body) wait in a bounded buffer; it is
/// flushed, in arrival order, before anything important (a message with a body, an iq, anything else) and when the
/// client becomes active. A full buffer is flushed too: nothing is dropped but superseded presence.
/// </summary>
public sealed partial class C2sStream
{
    private const string ChatStates = "http://jabber.org/protocol/chatstates";

    private readonly Lock _csiGate = new();
    private readonly List<Outbound> _csiBuffer = [];
    private volatile bool _csiInactive;

    /// <summary>Whether the client said it is inactive.</summary>
    public bool IsClientInactive => _csiInactive;

    /// <summary>Stanzas held back while inactive.</summary>
    public int CsiBuffered
    {
        get { lock (_csiGate) return _csiBuffer.Count; }
    }

    internal ValueTask OnClientStateAsync(XmlElement element)
    {
        switch (element.Name)
        {
            case "inactive":
                _csiInactive = true;
                return ValueTask.CompletedTask;
            case "active":
                lock (_csiGate)
                {
                    _csiInactive = false;
                    FlushCsiLocked();
                }
                return ValueTask.CompletedTask;
            default:
                return CloseAsync(new StreamError(StreamErrorCondition.UnsupportedStanzaType, $"<{element.Name} xmlns='{Ns.Csi}'/> is not supported."), "unsupported CSI element");
        }
    }

    /// <summary>
    /// Routing while inactive: buffers what can wait, or flushes the buffer and queues <paramref name="item"/> behind it.
    /// False when the client became active meanwhile (the caller queues normally).
    /// </summary>
    private bool TryCsiEnqueue(Outbound item)
    {
        lock (_csiGate)
        {
            if (!_csiInactive) return false;
            if (CanWait(item, out var presenceFrom))
            {
                if (presenceFrom is not null)
                {
                    // Only the latest presence per sender waits: at most one earlier entry can exist.
                    for (var i = 0; i < _csiBuffer.Count; i++)
                    {
                        if (!IsPresenceFrom(_csiBuffer[i], presenceFrom)) continue;
                        _csiBuffer.RemoveAt(i);
                        break;
                    }
                }
                _csiBuffer.Add(item);
                if (_csiBuffer.Count < _server.Options.StreamManagement.CsiMaxBuffered) return true;
                FlushCsiLocked();
                return true;
            }
            FlushCsiLocked();
            return false;
        }
    }

    /// <summary>An answer to the client's own request goes out: what waited goes first.</summary>
    private void FlushCsi()
    {
        lock (_csiGate) FlushCsiLocked();
    }

    private void FlushCsiLocked()
    {
        foreach (var buffered in _csiBuffer)
        {
            Interlocked.Increment(ref _queued);
            if (!_outbound.TryWrite(buffered))
            {
                Interlocked.Decrement(ref _queued);
                TryKeepForResumption(buffered);
            }
        }
        _csiBuffer.Clear();
    }

    private static bool IsPresenceFrom(Outbound item, string from) => item.Payload switch
    {
        XmlElement e => e.Name == "presence" && e.GetAttribute("from") == from,
        Routing.SerializedStanza s => s.Name == "presence" && s.From == from,
        _ => false,
    };

    /// <summary>Presence (not subscription requests) and chat-state-only messages can wait.</summary>
    private static bool CanWait(Outbound item, out string? presenceFrom)
    {
        presenceFrom = null;
        switch (item.Payload)
        {
            case Routing.SerializedStanza s when s.Name == "presence":
                presenceFrom = s.From ?? "";
                return true;
            case XmlElement e when e.Name == "presence":
                var type = e.GetAttribute("type");
                if (type is not (null or "unavailable")) return false; // subscriptions, errors, probes go now
                presenceFrom = e.GetAttribute("from") ?? "";
                return true;
            case XmlElement e when e.Name == "message":
                if (e.GetAttribute("type") == "error" || e.ElementCount == 0) return false;
                foreach (var child in e.Elements())
                {
                    if (child.Namespace != ChatStates) return false;
                }
                return true;
            default:
                return false;
        }
    }
}

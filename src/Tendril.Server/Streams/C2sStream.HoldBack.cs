using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Streams;

/// <summary>Decides which stanzas routed to a client may wait while the stream holds output back.</summary>
public interface IHoldBackPolicy
{
    /// <summary>How many stanzas may wait before all of them are released (nothing is dropped but superseded ones).</summary>
    int MaxHeld { get; }

    /// <summary>
    /// True when the stanza (an element, or <paramref name="serialized"/> for a fan-out) may wait. A non-null
    /// <paramref name="supersedeKey"/> replaces an earlier waiting stanza with the same key (the latest presence of a sender).
    /// </summary>
    bool CanWait(XmlElement? element, SerializedStanza? serialized, out string? supersedeKey);
}

/// <summary>
/// Holding output back (XEP-0352 client state indication uses it, see Features/ClientState): while a policy is set,
/// routed stanzas it says can wait are kept in a bounded buffer instead of the queue. The buffer is released, in
/// arrival order and before the stanza that caused it, when a stanza that cannot wait is routed, when the stream sends
/// an answer of its own, when it is full, when holding ends and when the session hibernates.
/// </summary>
public sealed partial class C2sStream
{
    private readonly Lock _holdGate = new();
    private readonly List<(Outbound Item, string? Key)> _held = []; // the key the policy gave it, for superseding
    private volatile IHoldBackPolicy? _holdPolicy;

    /// <summary>True while output is held back.</summary>
    public bool IsHoldingBack => _holdPolicy is not null;

    /// <summary>Stanzas waiting in the hold-back buffer.</summary>
    public int HeldBack
    {
        get { lock (_holdGate) return _held.Count; }
    }

    /// <summary>Starts holding back what <paramref name="policy"/> says can wait (called on the read loop).</summary>
    public void HoldBack(IHoldBackPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        lock (_holdGate) _holdPolicy = policy;
    }

    /// <summary>Stops holding back and releases what waited, in order.</summary>
    public void StopHoldingBack()
    {
        lock (_holdGate)
        {
            _holdPolicy = null;
            ReleaseHeldLocked();
        }
    }

    /// <summary>
    /// Routing while holding back: keeps what can wait, or releases the buffer and lets the caller queue
    /// <paramref name="item"/> behind it (false; also when holding ended meanwhile).
    /// </summary>
    private bool TryHold(Outbound item)
    {
        lock (_holdGate)
        {
            if (_holdPolicy is not { } policy) return false;
            var element = item.Payload as XmlElement;
            var serialized = item.Payload as SerializedStanza;
            if (!policy.CanWait(element, serialized, out var key))
            {
                ReleaseHeldLocked();
                return false;
            }
            if (key is not null)
            {
                // At most one earlier entry with the key can exist.
                for (var i = 0; i < _held.Count; i++)
                {
                    if (_held[i].Key != key) continue;
                    _held.RemoveAt(i);
                    break;
                }
            }
            _held.Add((item, key));
            if (_held.Count >= policy.MaxHeld) ReleaseHeldLocked();
            return true;
        }
    }

    /// <summary>An answer to the client's own request goes out, or the session hibernates: what waited goes first.</summary>
    private void ReleaseHeld()
    {
        lock (_holdGate) ReleaseHeldLocked();
    }

    private void ReleaseHeldLocked()
    {
        foreach (var (held, _) in _held)
        {
            CountQueued(held);
            if (!_outbound.TryWrite(held))
            {
                UncountQueued(held);
                TryKeepForResumption(held);
            }
        }
        _held.Clear();
    }
}

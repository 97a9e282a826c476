using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Streams;

/// <summary>
/// Acknowledged delivery and resumption on the connection, the mechanics XEP-0198 drives (its protocol is in
/// Features/StreamManagement): inbound counting, the writer's record of what went out
/// (<see cref="StreamManagementState"/>), keeping what is routed while the connection closes, hibernation when it is
/// lost, and taking a session over from another connection of the same account.
/// </summary>
public sealed partial class C2sStream
{
    /// <summary>The session's SM state once enabled (read loop's view).</summary>
    private StreamManagementState? _sm;

    /// <summary>The writer's view: set when &lt;enabled/&gt; or &lt;resumed/&gt; is written, so exactly the stanzas after it count.</summary>
    private StreamManagementState? _smOut;

    /// <summary>Set when this connection's end must not leave the session resumable (clean close, fatal error).</summary>
    private volatile bool _smNoResume;

    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the connection is completely finished (session unbound or hibernating).</summary>
    public Task Finished => _finished.Task;

    /// <summary>Sends an element that is not a stanza (SM, CSI): never counted, never queued behind the limit.</summary>
    public void SendNonza(XmlElement element) => EnqueueControl(new Outbound(OutboundKind.Nonza, element));

    /// <summary>Counts a stanza handled from the client (inbound h), once SM is enabled.</summary>
    internal void CountHandled()
    {
        if (_sm is { } sm) sm.Handled++;
    }

    /// <summary>The session's acknowledgement state once enabled on this connection or resumed onto it (read loop's view).</summary>
    public StreamManagementState? Acks => _sm;

    /// <summary>
    /// Starts counting: <paramref name="start"/> (XEP-0198 &lt;enabled/&gt;) is written, and every stanza written after it
    /// is kept until acknowledged; the writer asks with <paramref name="request"/> at the end of a batch. With a
    /// <paramref name="resumeId"/> the session stays resumable when the connection is lost.
    /// </summary>
    public void StartAcks(string? resumeId, XmlElement start, XmlElement request)
    {
        var sm = new StreamManagementState(Session!, resumeId, request);
        _sm = sm;
        if (resumeId is not null) _server.StreamManagement.Register(sm);
        EnqueueControl(new Outbound(OutboundKind.SmStart, start));
    }

    /// <summary>This connection's end must not leave the session resumable (the client broke the protocol).</summary>
    public void ForbidResumption() => _smNoResume = true;

    /// <summary>
    /// Takes over a woken session whose client acknowledged <paramref name="h"/> stanzas: <paramref name="start"/>
    /// (&lt;resumed/&gt;) is written, then the stanzas the client has not acknowledged, then whatever reached the old
    /// connection meanwhile. False (nothing taken over) when <paramref name="h"/> is more than was sent.
    /// </summary>
    public bool Resume(StreamManagementState sm, uint h, XmlElement start)
    {
        var items = sm.TakeForResume(h);
        if (items is null) return false;
        var session = sm.Session;
        _sm = sm;
        Session = session;
        State = States.ReadyState.Instance;
        EnqueueControl(new Outbound(OutboundKind.SmStart, start));
        EnqueueResent(items);
        session.Stream = this;
        // Stanzas that reached the old connection between the take-over and the switch above.
        EnqueueResent(sm.TakeUnwritten());
        Logging.ServerLog.Bound(_logger, Id, session.JidString + " (resumed)");
        return true;
    }

    private void EnqueueResent(List<Outbound> items)
    {
        foreach (var item in items)
        {
            CountQueued(item);
            if (!_outbound.TryWrite(item)) UncountQueued(item);
        }
    }

    /// <summary>Ends this connection, its client having given its session up: the session ends with it, no hibernation.</summary>
    internal void EndAbandoned()
    {
        _smNoResume = true;
        EndForTakeover();
    }

    /// <summary>Ends this connection because another one resumes its session.</summary>
    public void EndForTakeover()
    {
        _ = CloseAsync(null, "session resumed by another connection");
        CancelLifetime();
    }

    /// <summary>Writer loop: a stanza was written; tracks it for acks and enforces the unacked limit.</summary>
    private void RecordWritten(Outbound item)
    {
        if (_smOut is not { } sm) return;
        if (sm.RecordSent(item) > _server.Options.StreamManagement.MaxUnackedStanzas || sm.Bytes > _server.Options.Limits.OutputLimitBytes)
        {
            _smNoResume = true;
            _ = CloseAsync(new StreamError(StreamErrorCondition.PolicyViolation, "Too many unacknowledged stanzas."), "SM ack limit");
        }
    }

    /// <summary>
    /// While this connection is closing, stanzas routed to its session wait in the SM state: for the connection that
    /// resumes it, or — when the session ends — to be stored offline behind the unacknowledged ones, in order.
    /// </summary>
    private bool TryKeepForResumption(Outbound item)
    {
        if (_sm is not { } sm || !sm.TryAddPending(item, _server.Options.StreamManagement.MaxUnackedStanzas, _server.Options.Limits.OutputLimitBytes)) return false;
        if (sm.HibernatedAtTicks != 0 && item is { Kind: OutboundKind.Routed, Payload: XmlElement { Name: "message" } message })
        {
            _server.Features.RaiseMessageHeld(message, sm.Session.Jid); // XEP-0357: a push for the sleeping client
        }
        return true;
    }

    /// <summary>Stanzas queued on this connection that the writer never wrote (after it stopped).</summary>
    private List<Outbound> DrainUnwritten()
    {
        var list = new List<Outbound>();
        while (_outbound.TryRead(out var item))
        {
            if (item.Kind is OutboundKind.Routed or OutboundKind.Serialized or OutboundKind.Own) list.Add(item);
        }
        return list;
    }

    /// <summary>
    /// The connection is gone. With resumption enabled and no clean close, the session hibernates (stays bound, keeps
    /// receiving into the SM state); returns true then. Otherwise the caller unbinds it.
    /// </summary>
    private bool TryHibernate(C2sSession session)
    {
        if (_sm is not { ResumeId: not null } sm || _smNoResume || _server.IsStopping || session.IsClosed) return false;
        ReleaseHeld(); // what was held back goes to the SM state too (the queue is closed)
        sm.ReturnUnwritten(DrainUnwritten());
        _server.StreamManagement.Hibernate(sm, _server.Time.GetUtcNow());
        return true;
    }
}

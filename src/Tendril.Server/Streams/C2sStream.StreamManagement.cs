using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Streams;

/// <summary>
/// XEP-0198 stream management on the connection: &lt;enable/&gt;, inbound counting and &lt;a/&gt; answers to
/// &lt;r/&gt;, the writer's record of what went out (<see cref="StreamManagementState"/>), and &lt;resume/&gt;, which
/// takes a hibernating (or not yet noticed dead) session over from another connection of the same account.
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
    internal Task Finished => _finished.Task;

    internal bool StreamManagementEnabled => _sm is not null;

    private static XmlElement SmElement(string name) => new(name, Ns.StreamManagement);

    private static XmlElement Failed(string condition, uint? h = null)
    {
        var failed = SmElement("failed");
        if (h is { } value) failed.SetAttribute("h", value.ToString(CultureInfo.InvariantCulture));
        failed.Add(new XmlElement(condition, Ns.Stanzas));
        return failed;
    }

    /// <summary>Sends an element that is not a stanza (SM, CSI): never counted, never queued behind the limit.</summary>
    internal void SendNonza(XmlElement element) => EnqueueControl(new Outbound(OutboundKind.Nonza, element));

    /// <summary>Counts a stanza handled from the client (inbound h), once SM is enabled.</summary>
    internal void CountHandled()
    {
        if (_sm is { } sm) sm.Handled++;
    }

    /// <summary>An urn:xmpp:sm:3 element after binding.</summary>
    internal ValueTask OnStreamManagementAsync(XmlElement element)
    {
        switch (element.Name)
        {
            case "enable":
                return EnableAsync(element);
            case "r":
                if (_sm is { } sm)
                {
                    SendNonza(SmElement("a").SetAttribute("h", sm.Handled.ToString(CultureInfo.InvariantCulture)));
                }
                return ValueTask.CompletedTask;
            case "a":
                return OnAckAsync(element);
            case "resume":
                SendNonza(Failed("unexpected-request"));
                return ValueTask.CompletedTask;
            default:
                return CloseAsync(new StreamError(StreamErrorCondition.UnsupportedStanzaType, $"<{element.Name} xmlns='{Ns.StreamManagement}'/> is not supported."), "unsupported SM element");
        }
    }

    private ValueTask EnableAsync(XmlElement element)
    {
        if (_sm is not null)
        {
            SendNonza(Failed("unexpected-request"));
            return ValueTask.CompletedTask;
        }
        var session = Session!;
        var resume = element.GetAttribute("resume") is "true" or "1";
        var options = _server.Options.StreamManagement;
        var enabled = SmElement("enabled");
        string? id = null;
        if (resume && options.ResumeTimeoutSeconds > 0)
        {
            id = NewResumeId();
            enabled.SetAttribute("id", id).SetAttribute("resume", "true")
                .SetAttribute("max", options.ResumeTimeoutSeconds.ToString(CultureInfo.InvariantCulture));
        }
        var sm = new StreamManagementState(session, id);
        _sm = sm;
        if (id is not null) _server.StreamManagement.Register(sm);
        EnqueueControl(new Outbound(OutboundKind.SmStart, enabled));
        return ValueTask.CompletedTask;
    }

    private ValueTask OnAckAsync(XmlElement element)
    {
        if (_sm is not { } sm) return ValueTask.CompletedTask;
        if (!uint.TryParse(element.GetAttribute("h"), NumberStyles.None, CultureInfo.InvariantCulture, out var h))
        {
            return CloseAsync(new StreamError(StreamErrorCondition.BadFormat, "<a/> needs a numeric 'h'."), "bad SM ack");
        }
        if (sm.Acknowledge(h, out var requestAgain))
        {
            if (requestAgain) SendNonza(SmElement("r"));
            return ValueTask.CompletedTask;
        }
        _smNoResume = true;
        var condition = SmElement("handled-count-too-high")
            .SetAttribute("h", h.ToString(CultureInfo.InvariantCulture))
            .SetAttribute("send-count", sm.Sent.ToString(CultureInfo.InvariantCulture));
        return CloseAsync(new StreamError(StreamErrorCondition.UndefinedCondition, "You acknowledged more stanzas than were sent."), "handled-count-too-high", condition);
    }

    /// <summary>&lt;enable/&gt; or &lt;resume/&gt; before a resource is bound (the bind state's turn).</summary>
    internal async ValueTask OnStreamManagementBeforeBindAsync(XmlElement element)
    {
        if (element.Name != "resume")
        {
            // XEP-0198 §3: enabling before binding is an unexpected request.
            SendNonza(Failed("unexpected-request"));
            return;
        }
        var previd = element.GetAttribute("previd");
        if (previd is null || !uint.TryParse(element.GetAttribute("h"), NumberStyles.None, CultureInfo.InvariantCulture, out var h))
        {
            SendNonza(Failed("bad-request"));
            return;
        }
        var registry = _server.StreamManagement;
        var sm = registry.Find(previd);
        if (sm is null || sm.Session.Jid.Bare != User || sm.Session.IsClosed)
        {
            // Perhaps the session is held by another node of the cluster (the client reconnected through a load
            // balancer): this node cannot resume it, so that one ends it now (see StreamManagementRegistry).
            if (sm is null && _server.Cluster.IsClustered) registry.ResumeFailedHere(User!, previd);
            SendNonza(Failed("item-not-found"));
            return;
        }
        var old = sm.Session.Stream;
        if (old != this && !old.Finished.IsCompleted)
        {
            // The client noticed the dead connection before we did: end it; its end leaves the session hibernating.
            old.EndForTakeover();
            await Task.WhenAny(old.Finished, Task.Delay(TimeSpan.FromSeconds(15))).ConfigureAwait(false);
        }
        if (!registry.TryWake(sm))
        {
            SendNonza(Failed("item-not-found"));
            return;
        }
        var items = sm.TakeForResume(h);
        if (items is null)
        {
            // The client claims more than was sent: nothing sensible to resume; the session ends as on timeout.
            await registry.EndAsync(sm).ConfigureAwait(false);
            _smNoResume = true;
            var condition = SmElement("handled-count-too-high")
                .SetAttribute("h", h.ToString(CultureInfo.InvariantCulture))
                .SetAttribute("send-count", sm.Sent.ToString(CultureInfo.InvariantCulture));
            await CloseAsync(new StreamError(StreamErrorCondition.UndefinedCondition, "You acknowledged more stanzas than were sent."), "handled-count-too-high", condition).ConfigureAwait(false);
            return;
        }
        var session = sm.Session;
        _sm = sm;
        Session = session;
        State = States.ReadyState.Instance;
        EnqueueControl(new Outbound(OutboundKind.SmStart, SmElement("resumed")
            .SetAttribute("previd", previd).SetAttribute("h", sm.Handled.ToString(CultureInfo.InvariantCulture))));
        EnqueueResent(items);
        session.Stream = this;
        // Stanzas that reached the old connection between the take-over and the switch above.
        EnqueueResent(sm.TakeUnwritten());
        Logging.ServerLog.Bound(_logger, Id, session.JidString + " (resumed)");
    }

    private void EnqueueResent(List<Outbound> items)
    {
        foreach (var item in items)
        {
            Interlocked.Increment(ref _queued);
            if (!_outbound.TryWrite(item)) Interlocked.Decrement(ref _queued);
        }
    }

    /// <summary>Ends this connection, its client having given its session up: the session ends with it, no hibernation.</summary>
    internal void EndAbandoned()
    {
        _smNoResume = true;
        EndForTakeover();
    }

    /// <summary>Ends this connection because another one resumes its session.</summary>
    internal void EndForTakeover()
    {
        _ = CloseAsync(null, "session resumed by another connection");
        CancelLifetime();
    }

    /// <summary>Writer loop: a stanza was written; tracks it for acks and enforces the unacked limit.</summary>
    private void RecordWritten(Outbound item)
    {
        if (_smOut is not { } sm) return;
        if (sm.RecordSent(item) > _server.Options.StreamManagement.MaxUnackedStanzas)
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
        if (_sm is not { } sm || !sm.TryAddPending(item, _server.Options.StreamManagement.MaxUnackedStanzas)) return false;
        if (sm.HibernatedAtTicks != 0 && item is { Kind: OutboundKind.Routed, Payload: XmlElement { Name: "message" } message })
        {
            _server.Features.RaiseMessageHeld(message, sm.Session.Jid); // XEP-0357: a push for the sleeping client
        }
        return true;
    }

    private static string NewResumeId()
    {
        Span<byte> bytes = stackalloc byte[18];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
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
        FlushCsi(); // what CSI held back goes to the SM state too (the queue is closed)
        sm.ReturnUnwritten(DrainUnwritten());
        _server.StreamManagement.Hibernate(sm, _server.Time.GetUtcNow());
        return true;
    }
}

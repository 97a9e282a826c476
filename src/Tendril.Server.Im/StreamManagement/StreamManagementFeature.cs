using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Streams;
using Tendril.Xml;

namespace Tendril.Server.Features.StreamManagement;

/// <summary>
/// XEP-0198 stream management, the protocol: offers &lt;sm xmlns='urn:xmpp:sm:3'/&gt; with binding, answers
/// &lt;enable/&gt;, &lt;r/&gt;, &lt;a/&gt; on bound streams and &lt;resume/&gt; before binding. What it drives lives
/// with the stream (C2sStream.StreamManagement.cs: counting, the writer's record of what went out, hibernation) and
/// the server (<see cref="StreamManagementRegistry"/>: resumable and hibernating sessions, their expiry).
/// </summary>
public sealed class StreamManagementFeature : IServerFeature
{
    public void Register(FeatureRegistry registry)
    {
        registry.AddStreamFeature(NegotiationStep.Binding, _ => new XmlElement("sm", Ns.StreamManagement));
        registry.HandleStreamElement(Ns.StreamManagement, StreamPhase.Authenticated | StreamPhase.Bound, OnElementAsync);
    }

    private static XmlElement Element(string name) => new(name, Ns.StreamManagement);

    private static XmlElement Failed(string condition)
    {
        var failed = Element("failed");
        failed.Add(new XmlElement(condition, Ns.Stanzas));
        return failed;
    }

    private static ValueTask OnElementAsync(C2sStream stream, XmlElement element)
    {
        if (stream.Session is null)
        {
            // Authenticated, not bound: only <resume/> has a meaning; §3 makes <enable/> an unexpected request.
            switch (element.Name)
            {
                case "resume":
                    return ResumeAsync(stream, element);
                case "enable":
                    stream.SendNonza(Failed("unexpected-request"));
                    return ValueTask.CompletedTask;
                default:
                    return stream.CloseNotAuthorizedAsync(element);
            }
        }
        switch (element.Name)
        {
            case "enable":
                Enable(stream, element);
                return ValueTask.CompletedTask;
            case "r":
                if (stream.Acks is { } sm) stream.SendNonza(Element("a").SetAttribute("h", sm.Handled.ToString(CultureInfo.InvariantCulture)));
                return ValueTask.CompletedTask;
            case "a":
                return OnAckAsync(stream, element);
            case "resume":
                stream.SendNonza(Failed("unexpected-request"));
                return ValueTask.CompletedTask;
            default:
                return stream.CloseAsync(new StreamError(StreamErrorCondition.UnsupportedStanzaType, $"<{element.Name} xmlns='{Ns.StreamManagement}'/> is not supported."), "unsupported SM element");
        }
    }

    private static void Enable(C2sStream stream, XmlElement element)
    {
        if (stream.Acks is not null)
        {
            stream.SendNonza(Failed("unexpected-request"));
            return;
        }
        var resume = element.GetAttribute("resume") is "true" or "1";
        var options = stream.Server.Options.StreamManagement;
        var enabled = Element("enabled");
        string? id = null;
        if (resume && options.ResumeTimeoutSeconds > 0)
        {
            id = NewResumeId();
            enabled.SetAttribute("id", id).SetAttribute("resume", "true")
                .SetAttribute("max", options.ResumeTimeoutSeconds.ToString(CultureInfo.InvariantCulture));
        }
        // §4: the stanzas written after <enabled/> are the ones the client counts.
        stream.StartAcks(id, enabled, Element("r"));
    }

    private static ValueTask OnAckAsync(C2sStream stream, XmlElement element)
    {
        if (stream.Acks is not { } sm) return ValueTask.CompletedTask;
        if (!uint.TryParse(element.GetAttribute("h"), NumberStyles.None, CultureInfo.InvariantCulture, out var h))
        {
            return stream.CloseAsync(new StreamError(StreamErrorCondition.BadFormat, "<a/> needs a numeric 'h'."), "bad SM ack");
        }
        if (sm.Acknowledge(h, out var requestAgain))
        {
            if (requestAgain) stream.SendNonza(Element("r"));
            return ValueTask.CompletedTask;
        }
        return TooHighAsync(stream, h, sm.Sent);
    }

    /// <summary>§4: an ack of more than was sent ends the stream, and the session is not kept for resumption.</summary>
    private static ValueTask TooHighAsync(C2sStream stream, uint h, uint sent)
    {
        stream.ForbidResumption();
        var condition = Element("handled-count-too-high")
            .SetAttribute("h", h.ToString(CultureInfo.InvariantCulture))
            .SetAttribute("send-count", sent.ToString(CultureInfo.InvariantCulture));
        return stream.CloseAsync(new StreamError(StreamErrorCondition.UndefinedCondition, "You acknowledged more stanzas than were sent."), "handled-count-too-high", condition);
    }

    /// <summary>§5: takes a hibernating (or not yet noticed dead) session of the same account over.</summary>
    private static async ValueTask ResumeAsync(C2sStream stream, XmlElement element)
    {
        var previd = element.GetAttribute("previd");
        if (previd is null || !uint.TryParse(element.GetAttribute("h"), NumberStyles.None, CultureInfo.InvariantCulture, out var h))
        {
            stream.SendNonza(Failed("bad-request"));
            return;
        }
        var server = stream.Server;
        var registry = server.StreamManagement;
        var sm = registry.Find(previd);
        if (sm is null || sm.Session.Jid.Bare != stream.User || sm.Session.IsClosed)
        {
            // Perhaps the session is held by another node of the cluster (the client reconnected through a load
            // balancer): this node cannot resume it, so that one ends it now (see StreamManagementRegistry).
            if (sm is null && server.Cluster.IsClustered) registry.ResumeFailedHere(stream.User!, previd);
            stream.SendNonza(Failed("item-not-found"));
            return;
        }
        var old = sm.Session.Stream;
        if (old != stream && !old.Finished.IsCompleted)
        {
            // The client noticed the dead connection before we did: end it; its end leaves the session hibernating.
            old.EndForTakeover();
            await Task.WhenAny(old.Finished, Task.Delay(TimeSpan.FromSeconds(15))).ConfigureAwait(false);
        }
        if (!registry.TryWake(sm))
        {
            stream.SendNonza(Failed("item-not-found"));
            return;
        }
        // §5: the answer carries the h of what this server handled from the client before the connection was lost.
        var resumed = Element("resumed").SetAttribute("previd", previd).SetAttribute("h", sm.Handled.ToString(CultureInfo.InvariantCulture));
        if (!stream.Resume(sm, h, resumed))
        {
            // The client claims more than was sent: nothing sensible to resume; the session ends as on timeout.
            await registry.EndAsync(sm).ConfigureAwait(false);
            await TooHighAsync(stream, h, sm.Sent).ConfigureAwait(false);
        }
    }

    private static string NewResumeId()
    {
        Span<byte> bytes = stackalloc byte[18];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
    }
}

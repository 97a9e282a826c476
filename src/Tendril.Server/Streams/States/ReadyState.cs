using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Streams.States;

/// <summary>
/// The session is established: stanzas are checked (RFC 6120 §8), their 'from' is stamped with the session's full
/// JID, and they are handed to the router in the order they arrived.
/// </summary>
internal sealed class ReadyState : C2sState
{
    public static ReadyState Instance { get; } = new();

    public override string Name => "Ready";

    public override ValueTask OnElementAsync(C2sStream stream, XmlElement stanza)
    {
        var session = stream.Session!;
        if (stanza.Namespace != Ns.Client && stream.Server.Features.TryGetStreamElementHandler(stanza.Namespace, Features.StreamPhase.Bound, out var handler))
        {
            return handler(stream, stanza); // a nonza of a feature (acks, client state)
        }
        if (stanza.Namespace != Ns.Client || !IsStanza(stanza))
        {
            return stream.CloseAsync(new StreamError(StreamErrorCondition.UnsupportedStanzaType, $"<{stanza.Name} xmlns='{stanza.Namespace}'/> is not supported."), "unsupported stanza type");
        }

        // §8.1.2.1: a 'from' must be the session's own full or bare JID; anything else is a spoofing attempt.
        var from = stanza.GetAttribute("from");
        if (from is not null && !ReferenceEquals(from, session.JidString) && from != session.JidString)
        {
            if (!Jid.TryParse(from, out var fromJid) || fromJid is null || (fromJid != session.Jid && fromJid != session.Jid.Bare))
            {
                return stream.CloseAsync(new StreamError(StreamErrorCondition.InvalidFrom, "The 'from' address is not this session's."), "invalid from");
            }
        }
        stream.CountHandled();
        stanza.SetAttribute("from", session.JidString);
        stream.Server.Metrics.StanzaIn(stanza.Name);
        if (!stream.AdmitStanza(stanza))
        {
            // Issue 19: a session over its stanza rate gets each stanza back with policy-violation (type wait: it may
            // send again once it slows down); the stream stays up.
            stream.Server.Metrics.RateLimited(stanza.Name);
            stream.Server.Router.BounceError(stanza, new StanzaError(StanzaErrorCondition.PolicyViolation, StanzaErrorType.Wait,
                stanza.Name == "presence" ? "Too many presence stanzas; slow down." : "Too many stanzas; slow down."));
            return ValueTask.CompletedTask;
        }

        Jid? to = null;
        var toText = stanza.GetAttribute("to");
        if (toText is not null && (to = stream.ParseAddress(toText)) is null)
        {
            // §8.3.3.8: the address is not a valid JID.
            stream.Server.Router.BounceError(stanza, StanzaErrorCondition.JidMalformed);
            return ValueTask.CompletedTask;
        }

        if (stanza.Name == "iq" && !IsValidIq(stanza))
        {
            stream.Server.Router.BounceError(stanza, StanzaErrorCondition.BadRequest);
            return ValueTask.CompletedTask;
        }
        return stream.Server.Router.RouteFromClientAsync(session, stanza, to);
    }

    /// <summary>§8.2.3: an iq has an id and a type; get/set carry exactly one child, result at most one.</summary>
    private static bool IsValidIq(XmlElement iq)
    {
        if (iq.GetAttribute("id") is null) return false;
        return iq.GetAttribute("type") switch
        {
            "get" or "set" => iq.ElementCount == 1,
            "result" => iq.ElementCount <= 1,
            "error" => true,
            _ => false,
        };
    }
}

using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Server.Streams;
using Tendril.Xml;

namespace Tendril.Server.Features.ClientState;

/// <summary>
/// XEP-0352 client state indication: offers &lt;csi xmlns='urn:xmpp:csi:0'/&gt; with binding and handles
/// &lt;inactive/&gt; and &lt;active/&gt; on bound streams. While the client says it is inactive, presence updates (only
/// the latest per sender) and chat-state-only messages (XEP-0085 notifications without a body) wait on the stream
/// (<see cref="C2sStream.HoldBack"/>); they go out, in arrival order, before anything important (a message with a body,
/// an iq, an answer to the client) and when the client becomes active (§5 leaves what to hold to the server).
/// </summary>
public sealed class ClientStateIndicationFeature : IServerFeature
{
    private const string ChatStates = "http://jabber.org/protocol/chatstates";

    public void Register(FeatureRegistry registry)
    {
        registry.AddStreamFeature(NegotiationStep.Binding, _ => new XmlElement("csi", Ns.Csi));
        registry.HandleStreamElement(Ns.Csi, StreamPhase.Bound, OnElementAsync);
    }

    private static ValueTask OnElementAsync(C2sStream stream, XmlElement element)
    {
        switch (element.Name)
        {
            case "inactive":
                stream.HoldBack(new Policy(stream.Server));
                return ValueTask.CompletedTask;
            case "active":
                stream.StopHoldingBack();
                return ValueTask.CompletedTask;
            default:
                return stream.CloseAsync(new StreamError(StreamErrorCondition.UnsupportedStanzaType, $"<{element.Name} xmlns='{Ns.Csi}'/> is not supported."), "unsupported CSI element");
        }
    }

    /// <summary>Presence (not subscription requests, errors or probes) and chat-state-only messages can wait.</summary>
    private sealed class Policy(XmppServer server) : IHoldBackPolicy
    {
        public int MaxHeld => server.Options.StreamManagement.CsiMaxBuffered; // reloadable

        public bool CanWait(XmlElement? element, SerializedStanza? serialized, out string? supersedeKey)
        {
            supersedeKey = null;
            if (serialized is not null)
            {
                if (serialized.Name != "presence") return false;
                supersedeKey = serialized.From ?? "";
                return true;
            }
            switch (element?.Name)
            {
                case "presence":
                    if (element.GetAttribute("type") is not (null or "unavailable")) return false; // subscriptions, errors, probes go now
                    supersedeKey = element.GetAttribute("from") ?? "";
                    return true;
                case "message":
                    if (element.GetAttribute("type") == "error" || element.ElementCount == 0) return false;
                    foreach (var child in element.Elements())
                    {
                        if (child.Namespace != ChatStates) return false;
                    }
                    return true;
                default:
                    return false;
            }
        }
    }
}

using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Streams.States;

/// <summary>
/// One state of client stream negotiation (RFC 6120 §4–§7). Each state is a small class that decides what the
/// client may send at that point; the stream calls it for every event, in order.
/// </summary>
internal abstract class C2sState
{
    public abstract string Name { get; }

    /// <summary>A stream header arrived. Only <see cref="StartState"/> expects one (the parser yields it only after a restart).</summary>
    public virtual ValueTask OnStreamStartAsync(C2sStream stream, XmlElement header, string defaultNamespace) =>
        stream.CloseAsync(new StreamError(StreamErrorCondition.NotWellFormed), "unexpected stream header");

    /// <summary>A complete top-level element arrived.</summary>
    public abstract ValueTask OnElementAsync(C2sStream stream, XmlElement element);

    /// <summary>Stanzas before authentication and binding are refused (RFC 6120 §4.9.3.12, §7.1).</summary>
    protected static ValueTask NotAuthorizedAsync(C2sStream stream, XmlElement element) => stream.CloseNotAuthorizedAsync(element);

    protected static bool IsStanza(XmlElement e) => e.Name is "message" or "presence" or "iq";

    public override string ToString() => Name;
}

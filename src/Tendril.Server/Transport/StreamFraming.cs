using System.Buffers;
using System.IO.Pipelines;
using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Transport;

/// <summary>
/// How a <see cref="C2sStream"/> is framed on its transport — the only thing that differs between TCP (RFC 6120: one
/// XML document, <c>&lt;stream:stream&gt;</c> root) and the WebSocket binding (RFC 7395: every top-level element a
/// standalone document, <c>&lt;open/&gt;</c>/<c>&lt;close/&gt;</c> instead of the root). Negotiation, routing and the
/// writer's queue are the same for both. This base class is the TCP framing and writes today's exact bytes.
/// </summary>
internal class StreamFraming
{
    public static StreamFraming Tcp { get; } = new();

    /// <summary>Parse the input in fragment mode (every top-level element is an event, no stream root).</summary>
    public virtual bool FragmentMode => false;

    /// <summary>
    /// Reads the next event from <paramref name="buffer"/> with the stream's <paramref name="parser"/> — the one parse of
    /// the input. Same contract as <see cref="XmlStreamParser.TryRead"/>: <paramref name="buffer"/> is sliced to what
    /// was not consumed; <see cref="XmlParseException"/> on bad input. TCP input is one continuous document.
    /// </summary>
    public virtual bool TryRead(XmlStreamParser parser, ref ReadOnlySequence<byte> buffer, out XmlStreamEvent ev) => parser.TryRead(ref buffer, out ev);

    /// <summary>Maps a parsed event to the stream event the states understand (the framing's open/close elements).</summary>
    public virtual XmlStreamEvent MapInput(XmlStreamEvent ev) => ev;

    /// <summary>The stream header (RFC 6120 §4.7), pre-serialized when it is queued.</summary>
    public virtual byte[] BuildHeader(string id, string from, string? to, string lang) =>
        BuildOpening("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='"u8, "'>"u8, id, from, to, lang);

    /// <summary>An opening element: <paramref name="prefix"/> up to the id value, then from/to/version/xml:lang, then <paramref name="end"/>.</summary>
    protected static byte[] BuildOpening(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> end, string id, string from, string? to, string lang)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write(prefix);
        XmlWriter.WriteEscapedAttributeValue(buffer, id);
        buffer.Write("' from='"u8);
        XmlWriter.WriteEscapedAttributeValue(buffer, from);
        if (to is not null)
        {
            buffer.Write("' to='"u8);
            XmlWriter.WriteEscapedAttributeValue(buffer, to);
        }
        buffer.Write("' version='1.0' xml:lang='"u8);
        XmlWriter.WriteEscapedAttributeValue(buffer, lang);
        buffer.Write(end);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A stanza or negotiation element (the content namespace is inherited from the stream root).</summary>
    public virtual void WriteElement(PipeWriter output, XmlElement element) => XmlWriter.Write(output, element, Ns.Client);

    /// <summary>A stanza serialized once for many recipients.</summary>
    public virtual void WriteSerialized(PipeWriter output, SerializedStanza stanza, string to) => stanza.WriteTo(output, to);

    /// <summary>A child of the stream namespace (features, error), written with the <c>stream:</c> prefix.</summary>
    public virtual void WriteStreamElement(PipeWriter output, XmlElement element)
    {
        output.Write("<stream:"u8);
        WriteAscii(output, element.Name);
        WriteStreamElementRest(output, element);
    }

    /// <summary>The end of the stream.</summary>
    public virtual void WriteClose(PipeWriter output) => output.Write("</stream:stream>"u8);

    /// <summary>Called after every top-level item written (header, element, close): a message boundary where the transport has messages.</summary>
    public virtual void EndMessage(PipeWriter output)
    {
    }

    protected static void WriteStreamElementRest(PipeWriter output, XmlElement element)
    {
        if (!element.HasChildren)
        {
            output.Write("/>"u8);
            return;
        }
        output.Write(">"u8);
        foreach (var child in element.Elements()) XmlWriter.Write(output, child, Ns.Client);
        output.Write("</stream:"u8);
        WriteAscii(output, element.Name);
        output.Write(">"u8);
    }

    protected static void WriteAscii(IBufferWriter<byte> output, string ascii)
    {
        var span = output.GetSpan(ascii.Length);
        for (var i = 0; i < ascii.Length; i++) span[i] = (byte)ascii[i];
        output.Advance(ascii.Length);
    }
}

/// <summary>
/// RFC 7395 framing: the header is <c>&lt;open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/&gt;</c> (§3.3.2), the end
/// <c>&lt;close/&gt;</c> (§3.6), every element declares its namespaces because each message is parsed on its own
/// (§3.3.3; features and errors carry <c>xmlns:stream</c>). <see cref="EndMessage"/> writes a 0xFF byte — never
/// valid in UTF-8, so it cannot occur inside XML — which the transport turns into a message boundary.
/// <para>Input: the WebSocket transport marks the end of every received message with the same byte, and
/// <see cref="TryRead"/> parses each message once, requiring exactly one complete element in it (§3.3.3). BOSH
/// (<see cref="Bosh"/>) feeds elements it has already parsed out of its &lt;body/&gt;, unmarked.</para>
/// </summary>
internal sealed class WebSocketFraming : StreamFraming
{
    public const string Namespace = "urn:ietf:params:xml:ns:xmpp-framing";
    public const byte Boundary = 0xFF;

    /// <summary>RFC 7395: input in messages, each ended by <see cref="Boundary"/>.</summary>
    public static WebSocketFraming Instance { get; } = new(messageInput: true);

    /// <summary>XEP-0206: the same framing elements and output, input a plain sequence of elements.</summary>
    public static WebSocketFraming Bosh { get; } = new(messageInput: false);

    private readonly bool _messageInput;

    private WebSocketFraming(bool messageInput) => _messageInput = messageInput;

    public override bool FragmentMode => true;

    public override bool TryRead(XmlStreamParser parser, ref ReadOnlySequence<byte> buffer, out XmlStreamEvent ev)
    {
        if (!_messageInput) return parser.TryRead(ref buffer, out ev);
        // Nothing is consumed until a whole message is there; the transport has already bounded its size.
        if (buffer.PositionOf(Boundary) is not { } end)
        {
            ev = default;
            return false;
        }
        var message = buffer.Slice(0, end);
        // Each message is a standalone document (§3.3.3): a fresh parse, which must end with the message.
        parser.Reset();
        if (!parser.TryRead(ref message, out ev) || !IsBlank(message))
        {
            throw new XmlParseException(XmlParseError.NotWellFormed, "Every WebSocket message must be exactly one complete XML element (RFC 7395 §3.3.3).");
        }
        buffer = buffer.Slice(buffer.GetPosition(1, end));
        return true;
    }

    private static bool IsBlank(ReadOnlySequence<byte> rest)
    {
        foreach (var segment in rest)
        {
            if (!segment.Span.Trim(" \t\r\n"u8).IsEmpty) return false;
        }
        return true;
    }

    public override XmlStreamEvent MapInput(XmlStreamEvent ev)
    {
        if (ev.Kind != XmlStreamEventKind.Stanza || ev.Element is not { Namespace: Namespace } element) return ev;
        if (element.Name == "close") return new XmlStreamEvent(XmlStreamEventKind.StreamEnd, null);
        if (element.Name != "open") return ev;
        // The states check an RFC 6120 header; <open/> carries the same attributes (§3.4) in the framing namespace.
        var header = new XmlElement("stream", Ns.Streams);
        foreach (var a in element.Attributes)
        {
            if (a.Name != "xmlns" || a.Namespace.Length != 0) header.SetAttribute(a.Name, a.Value, a.Namespace);
        }
        return new XmlStreamEvent(XmlStreamEventKind.StreamStart, header, Ns.Client);
    }

    public override byte[] BuildHeader(string id, string from, string? to, string lang) =>
        BuildOpening("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='"u8, "'/>"u8, id, from, to, lang);

    public override void WriteElement(PipeWriter output, XmlElement element) => XmlWriter.Write(output, element);

    public override void WriteSerialized(PipeWriter output, SerializedStanza stanza, string to) => stanza.WriteTo(output, to, declareNamespace: true);

    public override void WriteStreamElement(PipeWriter output, XmlElement element)
    {
        output.Write("<stream:"u8);
        WriteAscii(output, element.Name);
        output.Write(" xmlns:stream='http://etherx.jabber.org/streams'"u8);
        WriteStreamElementRest(output, element);
    }

    public override void WriteClose(PipeWriter output) => output.Write("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"u8);

    public override void EndMessage(PipeWriter output)
    {
        var span = output.GetSpan(1);
        span[0] = Boundary;
        output.Advance(1);
    }
}

namespace Tendril.Xml;

public enum XmlStreamEventKind
{
    /// <summary>The stream root's start tag; <see cref="XmlStreamEvent.Element"/> holds its name, namespace and attributes (no children).</summary>
    StreamStart,

    /// <summary>A complete top-level element (a stanza or a negotiation element).</summary>
    Stanza,

    /// <summary>The stream root's end tag (<c>&lt;/stream:stream&gt;</c>).</summary>
    StreamEnd,
}

/// <param name="Kind">What happened.</param>
/// <param name="Element">The stream header (StreamStart) or the stanza (Stanza); null for StreamEnd.</param>
/// <param name="DefaultNamespace">For StreamStart: the default namespace the root declared (<c>jabber:client</c>, …), or empty.</param>
public readonly record struct XmlStreamEvent(XmlStreamEventKind Kind, XmlElement? Element, string DefaultNamespace = "");

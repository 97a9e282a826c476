namespace Tendril.Xml;

/// <summary>Limits and mode of <see cref="XmlStreamParser"/> (RFC 6120 §11, §13.12).</summary>
public sealed record XmlParserOptions
{
    public static XmlParserOptions Default { get; } = new();

    /// <summary>Maximum size in bytes of one top-level element (stanza), markup included. Default 256 KiB.</summary>
    public int MaxStanzaBytes { get; init; } = 256 * 1024;

    /// <summary>Maximum element nesting depth inside a stanza (the stanza itself is depth 1).</summary>
    public int MaxDepth { get; init; } = 48;

    /// <summary>Maximum attributes (namespace declarations included) on one element.</summary>
    public int MaxAttributes { get; init; } = 64;

    /// <summary>Maximum length in bytes of an element or attribute name.</summary>
    public int MaxNameBytes { get; init; } = 256;

    /// <summary>
    /// Stream mode (false): the input is one XML document whose root is <c>&lt;stream:stream&gt;</c>; the root's
    /// start tag is reported as <see cref="XmlStreamEventKind.StreamStart"/>, each child as a stanza, the end tag as
    /// <see cref="XmlStreamEventKind.StreamEnd"/>.
    /// Fragment mode (true, for the WebSocket binding of RFC 7395 and BOSH bodies): every top-level element is
    /// reported as a stanza; no stream root is expected.
    /// </summary>
    public bool FragmentMode { get; init; }
}

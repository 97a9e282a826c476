namespace Tendril.Xml;

/// <summary>Why the parser rejected its input; each maps to one RFC 6120 §4.9.3 stream error.</summary>
public enum XmlParseError
{
    /// <summary>Not well-formed XML (or not namespace-well-formed) → <c>not-well-formed</c>.</summary>
    NotWellFormed,

    /// <summary>Comments, processing instructions, DTDs, entity references other than the five predefined ones (RFC 6120 §11.1) → <c>restricted-xml</c>.</summary>
    RestrictedXml,

    /// <summary>A stanza exceeded <see cref="XmlParserOptions.MaxStanzaBytes"/> → <c>policy-violation</c>.</summary>
    StanzaTooLarge,

    /// <summary>Nesting beyond <see cref="XmlParserOptions.MaxDepth"/> → <c>policy-violation</c>.</summary>
    TooDeep,

    /// <summary>More attributes than <see cref="XmlParserOptions.MaxAttributes"/> → <c>policy-violation</c>.</summary>
    TooManyAttributes,

    /// <summary>An element or attribute name longer than <see cref="XmlParserOptions.MaxNameBytes"/> → <c>policy-violation</c>.</summary>
    NameTooLong,

    /// <summary>The input is not UTF-8 (bad byte sequence, or an encoding other than UTF-8 declared) → <c>unsupported-encoding</c>.</summary>
    UnsupportedEncoding,
}

public sealed class XmlParseException(XmlParseError error, string message) : Exception(message)
{
    public XmlParseError Error { get; } = error;
}

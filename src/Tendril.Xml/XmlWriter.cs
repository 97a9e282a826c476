using System.Buffers;

namespace Tendril.Xml;

/// <summary>Serializes elements as UTF-8 into an <see cref="IBufferWriter{T}"/> with correct escaping and namespace declarations.</summary>
public static class XmlWriter
{
    /// <summary>
    /// Writes <paramref name="element"/>. <paramref name="inheritedNamespace"/> is the default namespace in scope
    /// where it is written (e.g. <c>jabber:client</c> for a stanza on a c2s stream): no <c>xmlns</c> is emitted
    /// when the element's namespace equals it.
    /// </summary>
    public static void Write(IBufferWriter<byte> output, XmlElement element, string inheritedNamespace = "") => throw new NotImplementedException();

    /// <summary>Writes attribute-value escaped text (&amp; &lt; &gt; &quot; &apos;).</summary>
    public static void WriteEscapedAttributeValue(IBufferWriter<byte> output, ReadOnlySpan<char> value) => throw new NotImplementedException();

    /// <summary>Writes character-data escaped text (&amp; &lt; &gt;).</summary>
    public static void WriteEscapedText(IBufferWriter<byte> output, ReadOnlySpan<char> value) => throw new NotImplementedException();

    public static string ToXmlString(XmlElement element, string inheritedNamespace = "") => throw new NotImplementedException();
}

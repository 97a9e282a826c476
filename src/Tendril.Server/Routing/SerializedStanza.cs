using System.Buffers;
using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Routing;

/// <summary>
/// A stanza serialized once for many recipients (pubsub notifications, broadcasts): the UTF-8 bytes without a 'to'
/// attribute, and the offset right after the element name where each connection's writer inserts
/// <c> to='RECIPIENT'</c>. N subscribers cost N queue entries, not N serializations or N copies.
/// </summary>
public sealed class SerializedStanza
{
    private readonly byte[] _bytes;
    private readonly int _insertAt;

    public SerializedStanza(XmlElement stanza)
    {
        var template = stanza.CloneShallow();
        template.RemoveAttribute("to");
        var buffer = new ArrayBufferWriter<byte>(512);
        XmlWriter.Write(buffer, template, Ns.Client);
        _bytes = buffer.WrittenSpan.ToArray();
        _insertAt = 1 + stanza.Name.Length; // after "<name"
        Name = stanza.Name;
        From = stanza.GetAttribute("from");
        Element = stanza;
    }

    /// <summary>The stanza it was made from (for recipients on other cluster nodes, which serialize it once per node).</summary>
    public XmlElement Element { get; }

    /// <summary>The stanza's 'from' (client state indication keeps the latest presence per sender).</summary>
    public string? From { get; }

    /// <summary>The stanza's element name (message, presence, iq).</summary>
    public string Name { get; }

    public int Length => _bytes.Length;

    /// <summary>
    /// Writes the stanza addressed to <paramref name="to"/>; with <paramref name="declareNamespace"/> it declares
    /// jabber:client itself (framings where every element stands alone, RFC 7395 §3.3.3).
    /// </summary>
    public void WriteTo(IBufferWriter<byte> output, string to, bool declareNamespace = false)
    {
        output.Write(_bytes.AsSpan(0, _insertAt));
        if (declareNamespace) output.Write(" xmlns=\"jabber:client\""u8);
        output.Write(" to=\""u8);
        XmlWriter.WriteEscapedAttributeValue(output, to);
        output.Write("\""u8);
        output.Write(_bytes.AsSpan(_insertAt));
    }
}

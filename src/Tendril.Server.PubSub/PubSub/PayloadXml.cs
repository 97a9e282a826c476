using System.Buffers;
using System.Text;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>Item payloads are stored as serialized XML; this turns them back into elements (and checks HTTP input).</summary>
public static class PayloadXml
{
    private static readonly XmlParserOptions s_options = new() { FragmentMode = true, MaxStanzaBytes = 16 * 1024 * 1024 };

    public static string Serialize(XmlElement payload) => XmlWriter.ToXmlString(payload);

    /// <summary>Parses exactly one element; throws <see cref="FormatException"/> for anything else.</summary>
    public static XmlElement Parse(string xml)
    {
        var parser = new XmlStreamParser(s_options);
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(xml.Trim()));
        XmlElement? element = null;
        try
        {
            while (!buffer.IsEmpty && parser.TryRead(ref buffer, out var ev))
            {
                if (element is not null || ev.Element is null) throw new FormatException("The payload must be exactly one XML element.");
                element = ev.Element;
            }
        }
        catch (XmlParseException e)
        {
            throw new FormatException("The payload is not well-formed XML: " + e.Message, e);
        }
        return element ?? throw new FormatException("The payload must be exactly one complete XML element.");
    }
}

using System.Buffers;
using System.Text;
using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Features;

/// <summary>Stanzas kept in storage as XML text (offline messages, pending subscription requests).</summary>
public static class StoredStanza
{
    private static readonly XmlParserOptions s_options = new() { FragmentMode = true, MaxStanzaBytes = 16 * 1024 * 1024, MaxDepth = 256, MaxAttributes = 1024 };

    /// <summary>The stanza as text, with its namespace declared (so it parses back the same).</summary>
    public static string Serialize(XmlElement stanza) => XmlWriter.ToXmlString(stanza);

    /// <summary>Parses text written by <see cref="Serialize"/>; null when it is not one element.</summary>
    public static XmlElement? Parse(string text)
    {
        var parser = new XmlStreamParser(s_options);
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text));
        try
        {
            if (parser.TryRead(ref buffer, out var ev) && ev.Kind == XmlStreamEventKind.Stanza && ev.Element is { } element)
            {
                if (element.Namespace.Length == 0) element.Namespace = Ns.Client;
                return element;
            }
        }
        catch (XmlParseException)
        {
        }
        return null;
    }
}

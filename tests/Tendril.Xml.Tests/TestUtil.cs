using System.Buffers;
using System.Text;
using Tendril.Xml;

namespace Tendril.Xml.Tests;

internal static class TestUtil
{
    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Structural dump independent of the writer: name{ns}[attrs](children).</summary>
    public static string Dump(XmlElement e)
    {
        var sb = new StringBuilder();
        Dump(e, sb);
        return sb.ToString();
    }

    private static void Dump(XmlElement e, StringBuilder sb)
    {
        sb.Append(e.Name).Append('{').Append(e.Namespace).Append('}');
        sb.Append('[');
        foreach (var a in e.Attributes) sb.Append(a.Name).Append('{').Append(a.Namespace).Append("}=").Append(Escape(a.Value)).Append(';');
        sb.Append(']');
        if (e.HasChildren)
        {
            sb.Append('(');
            foreach (var c in e.Children)
            {
                if (c is XmlElement ce) Dump(ce, sb);
                else if (c is XmlText t) sb.Append("\"").Append(Escape(t.Value)).Append('"');
                sb.Append(',');
            }
            sb.Append(')');
        }
    }

    private static string Escape(string s)
    {
        var sb = new StringBuilder();
        foreach (var c in s)
        {
            if (c < 0x20 || c == '"' || c == '\\') sb.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.ToString();
    }

    public static string Describe(XmlStreamEvent ev) => ev.Kind switch
    {
        XmlStreamEventKind.StreamStart => $"start:{ev.DefaultNamespace}:{Dump(ev.Element!)}",
        XmlStreamEventKind.Stanza => $"stanza:{ev.DefaultNamespace}:{Dump(ev.Element!)}",
        _ => "end",
    };

    /// <summary>Feeds <paramref name="data"/> in the given chunk sizes (cycled), collecting events; an error is the last entry.</summary>
    public static List<string> Parse(byte[] data, XmlParserOptions? options, Func<int, int> nextChunk)
    {
        var parser = new XmlStreamParser(options);
        var events = new List<string>();
        var offset = 0;
        try
        {
            while (offset < data.Length)
            {
                var n = Math.Min(Math.Max(1, nextChunk(offset)), data.Length - offset);
                var seq = new ReadOnlySequence<byte>(data, offset, n);
                offset += n;
                while (parser.TryRead(ref seq, out var ev))
                {
                    events.Add(Describe(ev));
                }
                Assert.True(seq.IsEmpty);
            }
            // A pending StreamEnd (self-closed root) is delivered on the next call even without input.
            var empty = ReadOnlySequence<byte>.Empty;
            while (parser.TryRead(ref empty, out var last)) events.Add(Describe(last));
        }
        catch (XmlParseException e)
        {
            events.Add("error:" + e.Error);
        }
        return events;
    }

    public static List<string> ParseWhole(byte[] data, XmlParserOptions? options = null) => Parse(data, options, _ => int.MaxValue);

    public static List<string> ParseWhole(string xml, XmlParserOptions? options = null) => ParseWhole(Utf8(xml), options);

    /// <summary>Parses and returns the events (throws on error).</summary>
    public static List<XmlStreamEvent> Events(string xml, XmlParserOptions? options = null)
    {
        var parser = new XmlStreamParser(options);
        var seq = new ReadOnlySequence<byte>(Utf8(xml));
        var list = new List<XmlStreamEvent>();
        while (parser.TryRead(ref seq, out var ev)) list.Add(ev);
        var empty = ReadOnlySequence<byte>.Empty;
        while (parser.TryRead(ref empty, out var ev)) list.Add(ev);
        return list;
    }

    public static XmlElement ParseFragment(string xml)
    {
        var events = Events(xml, new XmlParserOptions { FragmentMode = true });
        Assert.Single(events);
        Assert.Equal(XmlStreamEventKind.Stanza, events[0].Kind);
        return events[0].Element!;
    }

    public static XmlParseError ParseError(string xml, XmlParserOptions? options = null) => ParseError(Utf8(xml), options);

    public static XmlParseError ParseError(byte[] data, XmlParserOptions? options = null)
    {
        var parser = new XmlStreamParser(options);
        var seq = new ReadOnlySequence<byte>(data);
        var ex = Assert.Throws<XmlParseException>(() =>
        {
            while (parser.TryRead(ref seq, out _)) { }
        });
        return ex.Error;
    }

    /// <summary>Builds a multi-segment sequence from the given pieces.</summary>
    public static ReadOnlySequence<byte> Segments(params byte[][] pieces) => Tendril.Tests.Support.Sequences.Of(pieces);

    public const string StreamHeader =
        "<?xml version='1.0' encoding='UTF-8'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' from='juliet@example.com' version='1.0' xml:lang='en' id='abc'>";

    /// <summary>A realistic client stream: header, stanzas of all kinds, keepalives, multi-byte text, end.</summary>
    public const string RealisticStream =
        StreamHeader +
        "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>\n" +
        "<message to='romeo@example.net/orchard' from='juliet@example.com/balcony' type='chat' id='m1' xml:lang='en'>" +
        "<body>Wherefore art thou, Romeo? &lt;3 &amp; caf\u00e9 \u20ac \U0001F339</body><thread>e0ffe42b</thread>" +
        "<active xmlns='http://jabber.org/protocol/chatstates'/></message> \n\t " +
        "<presence><show>away</show><status xml:lang='de'>Gr\u00fc\u00dfe &#x1F600; &#233;</status>" +
        "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://psi-im.org' ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>" +
        "   " +
        "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>" +
        "<iq type='result' id='d1' to='a@b/c'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc' name='T\u00e9st \"q\"'/>" +
        "<feature var='urn:xmpp:ping'/></query></iq>\r\n" +
        "<message type='groupchat'><body><![CDATA[<b>bold</b> & ]] ]>]]>tail</body><x xmlns:p='urn:p' p:a='1' a='2'/></message>" +
        "</stream:stream>";
}

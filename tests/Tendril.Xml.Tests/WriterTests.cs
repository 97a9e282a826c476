using System.Buffers;
using System.Text;
using Tendril.Xml;
using static Tendril.Xml.Tests.TestUtil;

namespace Tendril.Xml.Tests;

public class WriterTests
{
    [Fact]
    public void EstimateSize_is_close_to_the_serialized_length_and_never_below_half_of_it()
    {
        // An output budget counts with the estimate: it must not be far off for the shapes a server sends.
        var roster = new XmlElement("iq", "jabber:client").SetAttribute("type", "result").SetAttribute("id", "r1");
        var query = roster.AddElement("query", "jabber:iq:roster");
        for (var i = 0; i < 500; i++)
        {
            var item = query.AddElement("item").SetAttribute("jid", $"contact{i}@example.org").SetAttribute("subscription", "both").SetAttribute("name", $"Contact {i}");
            item.AddElement("group").Add("Friends");
        }
        var message = new XmlElement("message", "jabber:client").SetAttribute("to", "a@b").SetAttribute("type", "chat");
        message.AddElement("body").Add(new string('x', 10_000));
        message.AddElement("active", "http://jabber.org/protocol/chatstates");
        foreach (var e in new[] { roster, message, new XmlElement("presence", "jabber:client") })
        {
            var actual = Encoding.UTF8.GetByteCount(XmlWriter.ToXmlString(e));
            var estimate = e.EstimateSize();
            Assert.InRange(estimate, actual / 2, actual * 3 / 2);
        }
    }

    [Fact]
    public void InheritedNamespace_IsNotRedeclared()
    {
        var msg = new XmlElement("message", "jabber:client").SetAttribute("to", "a@b").SetAttribute("type", "chat");
        msg.AddElement("body").Add("hi");
        msg.AddElement("active", "http://jabber.org/protocol/chatstates");
        Assert.Equal("<message to=\"a@b\" type=\"chat\"><body>hi</body><active xmlns=\"http://jabber.org/protocol/chatstates\"/></message>",
            XmlWriter.ToXmlString(msg, "jabber:client"));
        Assert.Equal("<message xmlns=\"jabber:client\" to=\"a@b\" type=\"chat\"><body>hi</body><active xmlns=\"http://jabber.org/protocol/chatstates\"/></message>",
            XmlWriter.ToXmlString(msg));
    }

    [Fact]
    public void EmptyNamespaceUnderDefault_IsUndeclared()
    {
        var a = new XmlElement("a", "urn:a");
        a.AddElement("b", "").AddElement("c", "");
        Assert.Equal("<a xmlns=\"urn:a\"><b xmlns=\"\"><c/></b></a>", a.ToString());
    }

    [Fact]
    public void XmlNamespaceAttributes_UseXmlPrefix()
    {
        var e = new XmlElement("body").SetAttribute("lang", "en", XmlNamespaces.Xml);
        Assert.Equal("<body xml:lang=\"en\"/>", e.ToString());
    }

    [Fact]
    public void OtherNamespaceAttributes_GetGeneratedPrefixes()
    {
        var e = new XmlElement("x", "urn:x")
            .SetAttribute("a", "1", "urn:p")
            .SetAttribute("b", "2", "urn:q")
            .SetAttribute("c", "3", "urn:p")
            .SetAttribute("d", "4");
        Assert.Equal("<x xmlns=\"urn:x\" xmlns:ns1=\"urn:p\" ns1:a=\"1\" xmlns:ns2=\"urn:q\" ns2:b=\"2\" ns1:c=\"3\" d=\"4\"/>", e.ToString());
        var back = ParseFragment(e.ToString());
        Assert.Equal(Dump(e), Dump(back));
    }

    [Fact]
    public void NamespaceDeclarationAttributes_AreNotWritten()
    {
        var e = new XmlElement("x", "urn:x").SetAttribute("xmlns", "urn:evil").SetAttribute("p", "urn:y", XmlNamespaces.Xmlns);
        Assert.Equal("<x xmlns=\"urn:x\"/>", e.ToString());
    }

    [Fact]
    public void TextEscaping()
    {
        var e = new XmlElement("b").Add("a<b>&c]]>\"'\t\n\r\U0001F600");
        Assert.Equal("<b>a&lt;b&gt;&amp;c]]&gt;\"'\t\n&#xD;\U0001F600</b>", e.ToString());
    }

    [Fact]
    public void AttributeEscaping()
    {
        var e = new XmlElement("b").SetAttribute("v", "a<b>&c\"'\t\n\r\u00e9");
        Assert.Equal("<b v=\"a&lt;b&gt;&amp;c&quot;&apos;&#x9;&#xA;&#xD;\u00e9\"/>", e.ToString());
        Assert.Equal("a<b>&c\"'\t\n\r\u00e9", ParseFragment(e.ToString()).GetAttribute("v"));
    }

    [Fact]
    public void EscapeHelpers_WriteUtf8()
    {
        var buffer = new ArrayBufferWriter<byte>();
        XmlWriter.WriteEscapedText(buffer, "x&y\U0001F600");
        Assert.Equal("x&amp;y"u8.ToArray().Concat(new byte[] { 0xF0, 0x9F, 0x98, 0x80 }), buffer.WrittenSpan.ToArray());
        buffer.Clear();
        XmlWriter.WriteEscapedAttributeValue(buffer, "'\"<");
        Assert.Equal("&apos;&quot;&lt;", Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Fact]
    public void IllegalCharacters_AreReplaced()
    {
        var e = new XmlElement("b").SetAttribute("v", "a\u0001").Add("x\u0000y\uFFFF\uD800z");
        var xml = e.ToString();
        Assert.Equal("<b v=\"a\uFFFD\">x\uFFFDy\uFFFD\uFFFDz</b>", xml);
        ParseFragment(xml); // well-formed
    }

    [Fact]
    public void LongTextWithSurrogatePairsAcrossChunks_RoundTrips()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < 5000; i++) sb.Append(i % 7 == 0 ? "\U0001F600" : i % 5 == 0 ? "&<" : "\u00e9a");
        var e = new XmlElement("body", "jabber:client").Add(sb.ToString());
        e.SetAttribute("v", sb.ToString());
        var back = ParseFragment(e.ToString());
        Assert.Equal(sb.ToString(), back.Text);
        Assert.Equal(sb.ToString(), back.GetAttribute("v"));
    }

    [Fact]
    public void WritesThroughTinySpans()
    {
        var e = new XmlElement("message", "jabber:client").SetAttribute("to", "\u00e9@b");
        e.AddElement("body").Add(new string('x', 3000) + "\U0001F600");
        var tiny = new TinyBufferWriter();
        XmlWriter.Write(tiny, e);
        Assert.Equal(e.ToString(), Encoding.UTF8.GetString(tiny.Written.ToArray()));
    }

    [Fact]
    public void ParseThenWrite_IsStable()
    {
        const string xml = "<message xmlns=\"jabber:client\" to=\"a@b\" xml:lang=\"en\"><body>x &amp; y</body><c xmlns=\"http://jabber.org/protocol/caps\" ver=\"1\"/></message>";
        Assert.Equal(xml, ParseFragment(xml).ToString());
    }

    /// <summary>Returns spans of exactly the size asked for (1 byte when no hint), to exercise boundaries.</summary>
    private sealed class TinyBufferWriter : IBufferWriter<byte>
    {
        public List<byte> Written { get; } = [];
        private byte[] _current = [];

        public void Advance(int count) => Written.AddRange(_current.AsSpan(0, count).ToArray());

        public Memory<byte> GetMemory(int sizeHint = 0) => _current = new byte[Math.Max(1, sizeHint)];

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }
}

using System.Buffers;
using Tendril.Xml;
using static Tendril.Xml.Tests.TestUtil;

namespace Tendril.Xml.Tests;

public class ParserTests
{
    [Fact]
    public void StreamStart_Stanza_StreamEnd()
    {
        var events = Events(StreamHeader + "<message to='a@b'><body>hi</body></message></stream:stream>");
        Assert.Equal(3, events.Count);

        Assert.Equal(XmlStreamEventKind.StreamStart, events[0].Kind);
        var root = events[0].Element!;
        Assert.Equal("stream", root.Name);
        Assert.Equal("http://etherx.jabber.org/streams", root.Namespace);
        Assert.Equal("jabber:client", events[0].DefaultNamespace);
        Assert.False(root.HasChildren);
        Assert.Equal("example.com", root.GetAttribute("to"));
        Assert.Equal("1.0", root.GetAttribute("version"));
        Assert.Equal("en", root.GetAttribute("lang", XmlNamespaces.Xml));
        Assert.Equal(5, root.AttributeCount); // xmlns declarations are not attributes

        Assert.Equal(XmlStreamEventKind.Stanza, events[1].Kind);
        var msg = events[1].Element!;
        Assert.True(msg.Is("message", "jabber:client"));
        Assert.Equal("a@b", msg.GetAttribute("to"));
        Assert.Equal("hi", msg.Element("body", "jabber:client")!.Text);
        Assert.Equal("jabber:client", events[1].DefaultNamespace);

        Assert.Equal(XmlStreamEventKind.StreamEnd, events[2].Kind);
        Assert.Null(events[2].Element);
    }

    [Fact]
    public void StreamWithoutDefaultNamespace_HasEmptyDefault()
    {
        var events = Events("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a/>");
        Assert.Equal("", events[0].DefaultNamespace);
        Assert.Equal("", events[1].Element!.Namespace);
    }

    [Fact]
    public void ServerStream_DefaultNamespaceIsInherited()
    {
        var events = Events("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'><db:result to='a' from='b'>key</db:result><presence/>");
        Assert.Equal("jabber:server", events[0].DefaultNamespace);
        Assert.True(events[1].Element!.Is("result", "jabber:server:dialback"));
        Assert.Equal("key", events[1].Element!.Text);
        Assert.True(events[2].Element!.Is("presence", "jabber:server"));
    }

    [Fact]
    public void StreamPrefixedChild_IsStanza()
    {
        var events = Events(StreamHeader + "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
        var f = events[1].Element!;
        Assert.True(f.Is("features", "http://etherx.jabber.org/streams"));
        Assert.True(f.FirstElement()!.Is("bind", "urn:ietf:params:xml:ns:xmpp-bind"));
    }

    [Fact]
    public void WhitespaceKeepalives_AreIgnored()
    {
        var events = Events(StreamHeader + " \n\t\r\n <presence/>\n \n<presence/>   ");
        Assert.Equal(3, events.Count);
        Assert.All(events.Skip(1), e => Assert.Equal(XmlStreamEventKind.Stanza, e.Kind));
    }

    [Fact]
    public void TryRead_ReturnsFalseAndConsumesAll_WhenIncomplete()
    {
        var parser = new XmlStreamParser();
        var seq = new ReadOnlySequence<byte>(Utf8(StreamHeader + "<message><bo"));
        Assert.True(parser.TryRead(ref seq, out var ev));
        Assert.Equal(XmlStreamEventKind.StreamStart, ev.Kind);
        Assert.False(seq.IsEmpty);
        Assert.False(parser.TryRead(ref seq, out _));
        Assert.True(seq.IsEmpty);
        seq = new ReadOnlySequence<byte>(Utf8("dy>x</body></message><iq/>"));
        Assert.True(parser.TryRead(ref seq, out ev));
        Assert.Equal("message", ev.Element!.Name);
        Assert.Equal("x", ev.Element.Element("body")!.Text);
        Assert.Equal(5, seq.Length); // "<iq/>" left for the next call
        Assert.True(parser.TryRead(ref seq, out ev));
        Assert.Equal("iq", ev.Element!.Name);
        Assert.True(seq.IsEmpty);
    }

    [Fact]
    public void SelfClosedRoot_GivesStartThenEnd()
    {
        Assert.Equal(["start::stream{http://etherx.jabber.org/streams}[]", "end"],
            ParseWhole("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>"));
    }

    [Fact]
    public void Namespaces_PrefixesDefaultsAndScoping()
    {
        var e = ParseFragment(
            "<a xmlns='urn:a' xmlns:p='urn:p'><p:b><c/></p:b><d xmlns='urn:d'><e p:x='1' y='2'/></d><f xmlns=''><g/></f><p:h xmlns:p='urn:p2'/></a>");
        Assert.Equal("urn:a", e.Namespace);
        var b = e.Element("b")!;
        Assert.Equal("urn:p", b.Namespace);
        Assert.Equal("urn:a", b.Element("c")!.Namespace);
        var d = e.Element("d")!;
        Assert.Equal("urn:d", d.Namespace);
        var el = d.Element("e")!;
        Assert.Equal("urn:d", el.Namespace);
        Assert.Equal("1", el.GetAttribute("x", "urn:p"));
        Assert.Null(el.GetAttribute("x"));
        Assert.Equal("2", el.GetAttribute("y"));
        Assert.Equal("", e.Element("f")!.Namespace);
        Assert.Equal("", e.Element("f")!.Element("g")!.Namespace);
        Assert.Equal("urn:p2", e.Element("h")!.Namespace);
        Assert.Equal(0, e.AttributeCount);
    }

    [Fact]
    public void EmptyElementDeclarations_DoNotLeakToSiblings()
    {
        var e = ParseFragment("<a xmlns='urn:a'><b xmlns='urn:b' xmlns:p='urn:p'/><c/><p:d xmlns:p='urn:p2'/></a>");
        Assert.Equal("urn:b", e.Element("b")!.Namespace);
        Assert.Equal("urn:a", e.Element("c")!.Namespace);
        Assert.Equal("urn:p2", e.Element("d")!.Namespace);
        Assert.Equal(XmlParseError.NotWellFormed, ParseError("<a><b xmlns:p='urn:p'/><p:c/></a>", new XmlParserOptions { FragmentMode = true }));
    }

    [Fact]
    public void XmlLang_IsInXmlNamespace()
    {
        var e = ParseFragment("<body xml:lang='fr' xmlns:xml='http://www.w3.org/XML/1998/namespace'>bonjour</body>");
        var a = Assert.Single(e.Attributes);
        Assert.Equal(new XmlAttribute("lang", "fr", XmlNamespaces.Xml), a);
    }

    [Fact]
    public void Cdata_IsText_AndMergesWithAdjacentText()
    {
        var e = ParseFragment("<body>a&amp;<![CDATA[<b>&amp;]]]]><![CDATA[]]>z</body>");
        var t = Assert.IsType<XmlText>(Assert.Single(e.Children));
        Assert.Equal("a&<b>&amp;]]z", t.Value);
    }

    [Fact]
    public void EmptyCdata_AddsNoText()
    {
        var e = ParseFragment("<body><![CDATA[]]></body>");
        Assert.False(e.HasChildren);
    }

    [Fact]
    public void PredefinedEntities_AndCharacterReferences()
    {
        var e = ParseFragment("<x a='&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;&#10;&#x9;'>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1f600;&#0000033;</x>");
        Assert.Equal("<>&\"'AB\U0001F600\n\t", e.GetAttribute("a"));
        Assert.Equal("<>&\"'AB\U0001F600!", e.Text);
    }

    [Fact]
    public void LineEndings_AreNormalized()
    {
        var e = ParseFragment("<x a='1\r\n2\n3\t4\r5'>l1\r\nl2\rl3\nl4<![CDATA[c\r\nd]]></x>");
        Assert.Equal("1 2 3 4 5", e.GetAttribute("a"));
        Assert.Equal("l1\nl2\nl3\nl4c\nd", e.Text);
    }

    [Fact]
    public void MultiByteUtf8_InNamesTextAndAttributes()
    {
        // 2-byte (é, ß), 3-byte (€, 中), 4-byte (😀 only in text/values: not a NameChar? U+1F600 is in [#x10000-#xEFFFF] so it is)
        var e = ParseFragment("<caf\u00e9 \u4e2d\u6587='\u20ac\U0001F600' xmlns:\u00df='urn:s'><\u00df:\U0001F600>\u00e9\u20ac\U0001F600</\u00df:\U0001F600></caf\u00e9>");
        Assert.Equal("caf\u00e9", e.Name);
        Assert.Equal("\u20ac\U0001F600", e.GetAttribute("\u4e2d\u6587"));
        var child = e.FirstElement()!;
        Assert.Equal("\U0001F600", child.Name);
        Assert.Equal("urn:s", child.Namespace);
        Assert.Equal("\u00e9\u20ac\U0001F600", child.Text);
    }

    [Fact]
    public void WhitespaceInsideStanzas_IsKept()
    {
        var e = ParseFragment("<a>\n  <b/>\n</a>");
        Assert.Equal(3, e.Children.Count);
        Assert.Equal("\n  ", ((XmlText)e.Children[0]).Value);
    }

    [Fact]
    public void AttributesWithWhitespaceAroundEquals_AndBothQuotes()
    {
        var e = ParseFragment("<a x = \"1'\"\ty\n=\n'2\"' ></a >");
        Assert.Equal("1'", e.GetAttribute("x"));
        Assert.Equal("2\"", e.GetAttribute("y"));
        Assert.Equal(">", ParseFragment("<a x='>'/>").GetAttribute("x"));
    }

    [Fact]
    public void GreaterThanInText_IsAllowed()
    {
        Assert.Equal("a > b ]> ]", ParseFragment("<a>a > b ]> ]</a>").Text);
    }

    [Fact]
    public void FragmentMode_EveryTopLevelElementIsAStanza()
    {
        var opts = new XmlParserOptions { FragmentMode = true };
        var events = ParseWhole("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/> \n<message xmlns='jabber:client'><body>x</body></message><close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>", opts);
        Assert.Equal(
        [
            "stanza::open{urn:ietf:params:xml:ns:xmpp-framing}[to{}=example.com;version{}=1.0;]",
            "stanza::message{jabber:client}[](body{jabber:client}[](\"x\",),)",
            "stanza::close{urn:ietf:params:xml:ns:xmpp-framing}[]",
        ], events);
    }

    [Fact]
    public void FragmentMode_AllowsLeadingXmlDeclaration_AndRejectsText()
    {
        var opts = new XmlParserOptions { FragmentMode = true };
        Assert.Equal(["stanza::a{}[]"], ParseWhole("<?xml version='1.0'?><a/>", opts));
        Assert.Equal(XmlParseError.NotWellFormed, ParseError("<a/>text", opts));
        Assert.Equal(XmlParseError.NotWellFormed, ParseError("</a>", opts));
    }

    [Fact]
    public void FragmentMode_StreamElementIsJustAStanza()
    {
        var opts = new XmlParserOptions { FragmentMode = true };
        // Without a root, <stream:stream> must be complete to be reported (and its prefix must be bound).
        var events = ParseWhole("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a/></stream:stream>", opts);
        Assert.Equal(["stanza::stream{http://etherx.jabber.org/streams}[](a{}[],)"], events);
    }

    [Fact]
    public void Reset_AllowsNewHeaderAndXmlDeclaration()
    {
        var parser = new XmlStreamParser();
        var seq = new ReadOnlySequence<byte>(Utf8(StreamHeader + "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
        Assert.True(parser.TryRead(ref seq, out _));
        Assert.True(parser.TryRead(ref seq, out var ev));
        Assert.Equal("proceed", ev.Element!.Name);
        parser.Reset();
        seq = new ReadOnlySequence<byte>(Utf8(StreamHeader.Replace("jabber:client", "jabber:server", StringComparison.Ordinal) + "<message/>"));
        Assert.True(parser.TryRead(ref seq, out ev));
        Assert.Equal(XmlStreamEventKind.StreamStart, ev.Kind);
        Assert.Equal("jabber:server", ev.DefaultNamespace);
        Assert.True(parser.TryRead(ref seq, out ev));
        Assert.Equal("jabber:server", ev.Element!.Namespace);
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n  ")]
    [InlineData(" \t\n\n")]
    public void Restart_AllowsWhitespaceLeftOverFromTheOldStreamBeforeTheXmlDeclaration(string leftover)
    {
        // go-sendxmpp: "...</auth>\n", then the new stream starts with its XML declaration (issue 21).
        var data = Utf8(leftover + StreamHeader + "<iq xmlns='jabber:client' type='get' id='1'/>");
        for (var split = 0; split <= data.Length; split++)
        {
            var parser = new XmlStreamParser();
            var seq = new ReadOnlySequence<byte>(Utf8(StreamHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"));
            Assert.True(parser.TryRead(ref seq, out _));
            Assert.True(parser.TryRead(ref seq, out _));
            parser.Restart();
            seq = split == 0 || split == data.Length
                ? new ReadOnlySequence<byte>(data)
                : Segments(data[..split], data[split..]);
            Assert.True(parser.TryRead(ref seq, out var ev), $"split at {split}");
            Assert.Equal(XmlStreamEventKind.StreamStart, ev.Kind);
            Assert.True(parser.TryRead(ref seq, out ev));
            Assert.Equal("iq", ev.Element!.Name);
        }
        // The same bytes fed one at a time.
        var bytewise = new XmlStreamParser();
        bytewise.Restart();
        var events = new List<XmlStreamEventKind>();
        for (var i = 0; i < data.Length; i++)
        {
            var one = new ReadOnlySequence<byte>(data, i, 1);
            while (bytewise.TryRead(ref one, out var ev)) events.Add(ev.Kind);
        }
        Assert.Equal([XmlStreamEventKind.StreamStart, XmlStreamEventKind.Stanza], events);
    }

    [Theory]
    [InlineData("\nx", XmlParseError.NotWellFormed)]
    [InlineData("\n\u00a0", XmlParseError.NotWellFormed)]   // not XML whitespace (S ::= #x20 | #x9 | #xD | #xA)
    [InlineData("\n<!-- c -->", XmlParseError.RestrictedXml)]
    [InlineData("\n<?xml version='1.0'?>\n", XmlParseError.RestrictedXml)] // a second declaration
    [InlineData("\n<a/>", XmlParseError.NotWellFormed)]        // an element, then the declaration
    public void Restart_StillRefusesAnythingButWhitespaceBeforeTheXmlDeclaration(string junk, XmlParseError expected)
    {
        var parser = new XmlStreamParser();
        parser.Restart();
        var seq = new ReadOnlySequence<byte>(Utf8(junk + StreamHeader));
        var ex = Assert.Throws<XmlParseException>(() =>
        {
            while (parser.TryRead(ref seq, out _)) { }
        });
        Assert.Equal(expected, ex.Error);
    }

    [Fact]
    public void Reset_KeepsTheXmlDeclarationAtTheVeryStart()
    {
        // A new document (connection, TLS layer, WebSocket message): XML 1.0 §2.8, nothing before the declaration.
        var parser = new XmlStreamParser();
        parser.Restart();
        parser.Reset();
        var seq = new ReadOnlySequence<byte>(Utf8("\n" + StreamHeader));
        Assert.Equal(XmlParseError.RestrictedXml, Assert.Throws<XmlParseException>(() => parser.TryRead(ref seq, out _)).Error);
    }

    [Fact]
    public void Reset_DropsPartialInput()
    {
        var parser = new XmlStreamParser();
        var seq = new ReadOnlySequence<byte>(Utf8(StreamHeader + "<message><body>par"));
        while (parser.TryRead(ref seq, out _)) { }
        parser.Reset();
        seq = new ReadOnlySequence<byte>(Utf8("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a/>"));
        Assert.True(parser.TryRead(ref seq, out var ev));
        Assert.Equal(XmlStreamEventKind.StreamStart, ev.Kind);
        Assert.True(parser.TryRead(ref seq, out ev));
        Assert.Equal("a", ev.Element!.Name);
    }

    [Fact]
    public void AfterError_ParserThrowsUntilReset()
    {
        var parser = new XmlStreamParser();
        var seq = new ReadOnlySequence<byte>(Utf8("<!-- x -->"));
        Assert.Equal(XmlParseError.RestrictedXml, Assert.Throws<XmlParseException>(() => parser.TryRead(ref seq, out _)).Error);
        seq = new ReadOnlySequence<byte>(Utf8(StreamHeader));
        Assert.Equal(XmlParseError.RestrictedXml, Assert.Throws<XmlParseException>(() => parser.TryRead(ref seq, out _)).Error);
        parser.Reset();
        seq = new ReadOnlySequence<byte>(Utf8(StreamHeader));
        Assert.True(parser.TryRead(ref seq, out var ev));
        Assert.Equal(XmlStreamEventKind.StreamStart, ev.Kind);
    }

    [Fact]
    public void XmlDeclarationVariants_AreAccepted()
    {
        foreach (var decl in new[]
        {
            "<?xml version='1.0'?>", "<?xml version=\"1.0\" encoding=\"utf-8\"?>", "<?xml version = '1.0' encoding = 'UTF-8' standalone = 'yes' ?>",
            "<?xml version='1.1'?>", "<?xml version='1.0' standalone='no'?>",
        })
        {
            var events = ParseWhole(decl + "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>");
            Assert.Single(events);
            Assert.StartsWith("start:", events[0], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void CommonNames_AreInterned()
    {
        var a = ParseFragment("<message xmlns='jabber:client' type='chat' to='x'><body>1</body></message>");
        var b = ParseFragment("<message xmlns='jabber:client' type='chat' to='y'><body>2</body></message>");
        Assert.Same(a.Name, b.Name);
        Assert.Same(a.Namespace, b.Namespace);
        Assert.Same(a.Attributes[0].Name, b.Attributes[0].Name);
        Assert.Same(a.GetAttribute("type"), b.GetAttribute("type"));
        Assert.Same(a.FirstElement()!.Name, b.FirstElement()!.Name);
    }

    /// <summary>
    /// The per-parser cache is direct-mapped (one slot per hash, and <see cref="HashCode"/> is seeded per process), so
    /// two uncommon strings in one input may share a slot and evict each other: each case has one uncommon string only
    /// (with both in one input, this test failed about one process in 128 — once in CI).
    /// </summary>
    [Theory]
    [InlineData("<zork xmlns='jabber:client'/><zork xmlns='jabber:client'/>")] // an uncommon name, a shared namespace
    [InlineData("<message xmlns='urn:example:zork'/><message xmlns='urn:example:zork'/>")] // a shared name, an uncommon namespace
    public void UncommonNames_AreCachedPerParser(string input)
    {
        var parser = new XmlStreamParser(new XmlParserOptions { FragmentMode = true });
        var seq = new ReadOnlySequence<byte>(Utf8(input));
        Assert.True(parser.TryRead(ref seq, out var a));
        Assert.True(parser.TryRead(ref seq, out var b));
        Assert.Same(a.Element!.Name, b.Element!.Name);
        Assert.Same(a.Element.Namespace, b.Element.Namespace);
    }

    [Fact]
    public void LimitsAtTheBoundary_AreAccepted()
    {
        var stanza = "<a b='1' c='2'><d><e/></d></a>";
        var opts = new XmlParserOptions { FragmentMode = true, MaxStanzaBytes = Utf8(stanza).Length, MaxDepth = 3, MaxAttributes = 2, MaxNameBytes = 1 };
        Assert.Equal(["stanza::a{}[b{}=1;c{}=2;](d{}[](e{}[],),)"], ParseWhole(stanza + "  " + stanza, opts).Take(1));
        Assert.Equal(2, ParseWhole(stanza + "  " + stanza, opts).Count);
    }
}

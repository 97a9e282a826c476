using System.Buffers;
using Tendril.Xml;
using static Tendril.Xml.Tests.TestUtil;

namespace Tendril.Xml.Tests;

public class MalformedTests
{
    private const string H = StreamHeader;

    /// <summary>A minimal stream header, for tests of limits that the full header would already exceed.</summary>
    private const string S = "<s>";

    [Theory]
    // RFC 6120 §11.1 restrictions
    [InlineData("<!DOCTYPE stream [ <!ENTITY x 'y'> ]>" + "<stream:stream/>", XmlParseError.RestrictedXml)]
    [InlineData(H + "<!DOCTYPE x>", XmlParseError.RestrictedXml)]
    [InlineData(H + "<!ENTITY x 'y'>", XmlParseError.RestrictedXml)]
    [InlineData(H + "<message><!ENTITY x 'y'></message>", XmlParseError.RestrictedXml)]
    [InlineData("<!-- hello -->" + H, XmlParseError.RestrictedXml)]
    [InlineData(H + "<!-- keepalive -->", XmlParseError.RestrictedXml)]
    [InlineData(H + "<message><body>a<!-- c -->b</body></message>", XmlParseError.RestrictedXml)]
    [InlineData(H + "<?php echo 1; ?>", XmlParseError.RestrictedXml)]
    [InlineData(H + "<message><?pi x?></message>", XmlParseError.RestrictedXml)]
    [InlineData("<?xml-stylesheet href='a'?>" + H, XmlParseError.RestrictedXml)]
    [InlineData(H + "<message><body>&foo;</body></message>", XmlParseError.RestrictedXml)]
    [InlineData(H + "<message to='&nbsp;'/>", XmlParseError.RestrictedXml)]
    // XML declaration placement and encoding
    [InlineData("<?xml version='1.0'?><?xml version='1.0'?>" + "<stream:stream/>", XmlParseError.RestrictedXml)]
    [InlineData(" <?xml version='1.0'?><stream:stream/>", XmlParseError.RestrictedXml)]
    [InlineData(H + "<?xml version='1.0'?>", XmlParseError.RestrictedXml)]
    [InlineData("<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream/>", XmlParseError.UnsupportedEncoding)]
    [InlineData("<?xml version='1.0' encoding='UTF-16'?><stream:stream/>", XmlParseError.UnsupportedEncoding)]
    [InlineData("<?xml encoding='UTF-8'?><stream:stream/>", XmlParseError.NotWellFormed)]
    [InlineData("<?xml version='2.0'?><stream:stream/>", XmlParseError.NotWellFormed)]
    [InlineData("<?xml?><stream:stream/>", XmlParseError.NotWellFormed)]
    [InlineData("<?xml version='1.0' bogus='1'?><stream:stream/>", XmlParseError.NotWellFormed)]
    // tags
    [InlineData(H + "<message><body>x</message></body>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message></presence>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><a></b></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "</stream>", XmlParseError.NotWellFormed)]
    [InlineData("</stream:stream>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><a/></message></stream:stream><a/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message a='1'b='2'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message a=1/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message a/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message a='1' / ></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message a='<'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message <a/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<1message/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<-a/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "< message/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<a\u00d7b/>", XmlParseError.NotWellFormed)] // × is not a NameChar
    [InlineData(H + "<message><body>a]]>b</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><body>a & b</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><body>&amp</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><body>&#;</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><body>&#x;</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><body>&#12a;</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><![CDATX[x]]></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<![CDATA[x]]>", XmlParseError.NotWellFormed)]
    // character references to illegal characters
    [InlineData(H + "<message><body>&#0;</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><body>&#xD800;</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><body>&#xFFFE;</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><body>&#x110000;</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><body>&#99999999999999;</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message a='&#1;'/>", XmlParseError.NotWellFormed)]
    // illegal characters
    [InlineData(H + "<message><body>a\u0001b</body></message>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message a='\u001f'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message><body>\uffff</body></message>", XmlParseError.NotWellFormed)]
    // namespaces
    [InlineData(H + "<foo:message/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message foo:a='1'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message a='1' a='2'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message xmlns:p='urn:x' xmlns:q='urn:x' p:a='1' q:a='2'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message xmlns='a' xmlns='b'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message xmlns:xml='urn:other'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message xmlns:xmlns='urn:other'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message xmlns:p='http://www.w3.org/XML/1998/namespace'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message xmlns:p=''/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<xmlns:message/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<a:b:c xmlns:a='urn:a'/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<a: xmlns:a='urn:a'/>", XmlParseError.NotWellFormed)]
    // text at depth 1 / outside the root
    [InlineData(H + "hello<message/>", XmlParseError.NotWellFormed)]
    [InlineData(H + "<message/>&amp;", XmlParseError.NotWellFormed)]
    [InlineData("hello" + H, XmlParseError.NotWellFormed)]
    [InlineData(H + "</stream:stream>x", XmlParseError.NotWellFormed)]
    [InlineData(H + "</stream:streamx>", XmlParseError.NotWellFormed)]
    public void MalformedInput_ReportsExactError(string xml, XmlParseError expected)
    {
        Assert.Equal(expected, ParseError(xml));
    }

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })]                 // invalid continuation
    [InlineData(new byte[] { 0xC0, 0xAF })]                 // overlong '/'
    [InlineData(new byte[] { 0xE0, 0x80, 0xAF })]           // overlong 3-byte
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]           // UTF-16 surrogate D800
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })]     // > U+10FFFF
    [InlineData(new byte[] { 0xE2, 0x82 })]                 // truncated before '<'
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0x80 })]                       // lone continuation byte
    public void InvalidUtf8_IsUnsupportedEncoding(byte[] bad)
    {
        var body = Utf8(H + "<message><body>").Concat(bad).Concat(Utf8("</body></message>")).ToArray();
        Assert.Equal(XmlParseError.UnsupportedEncoding, ParseError(body));
        var attr = Utf8(H + "<message to='").Concat(bad).Concat(Utf8("'/>")).ToArray();
        Assert.Equal(XmlParseError.UnsupportedEncoding, ParseError(attr));
        var header = Utf8("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='").Concat(bad).Concat(Utf8("'>")).ToArray();
        Assert.Equal(XmlParseError.UnsupportedEncoding, ParseError(header));
    }

    [Fact]
    public void InvalidUtf8_IsDetectedRegardlessOfChunking()
    {
        var data = Utf8(H + "<message><body>").Concat(new byte[] { 0xF0, 0x9F, 0x98 }).Concat(Utf8("</body></message>")).ToArray();
        Assert.Equal("error:UnsupportedEncoding", Parse(data, null, _ => 1)[^1]);
    }

    [Fact]
    public void OversizedStanza_WithClosingTag()
    {
        var opts = new XmlParserOptions { MaxStanzaBytes = 100 };
        Assert.Equal(XmlParseError.StanzaTooLarge, ParseError(H + "<message><body>" + new string('a', 200) + "</body></message>", opts));
        // Header is bounded too.
        Assert.Equal(XmlParseError.StanzaTooLarge, ParseError("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' x='" + new string('a', 200) + "'>", opts));
    }

    [Fact]
    public void OversizedStanza_CountsWhitespaceAndMarkup_ExactBoundary()
    {
        var stanza = "<message>   <body> x </body>   </message>";
        var len = Utf8(stanza).Length;
        Assert.Equal(2, ParseWhole(S + stanza, new XmlParserOptions { MaxStanzaBytes = len }).Count);
        Assert.Equal("error:StanzaTooLarge", ParseWhole(S + stanza, new XmlParserOptions { MaxStanzaBytes = len - 1 })[^1]);
        Assert.Equal("error:StanzaTooLarge", Parse(Utf8(S + stanza), new XmlParserOptions { MaxStanzaBytes = len - 1 }, _ => 3)[^1]);
    }

    [Fact]
    public void OversizedStanza_WithoutClosingBracket_IsStoppedAtTheLimit()
    {
        var opts = new XmlParserOptions { MaxStanzaBytes = 1000 };
        var parser = new XmlStreamParser(opts);
        var seq = new ReadOnlySequence<byte>(Utf8(H));
        Assert.True(parser.TryRead(ref seq, out _));

        // Exactly at the limit: still waiting for more.
        var start = Utf8("<message to='");
        seq = new ReadOnlySequence<byte>(start);
        Assert.False(parser.TryRead(ref seq, out _));
        seq = new ReadOnlySequence<byte>(new byte[1000 - start.Length].AsMemory().ToArray().Select(_ => (byte)'a').ToArray());
        Assert.False(parser.TryRead(ref seq, out _));
        // One more byte exceeds it.
        seq = new ReadOnlySequence<byte>(new[] { (byte)'a' });
        Assert.Equal(XmlParseError.StanzaTooLarge, Assert.Throws<XmlParseException>(() => parser.TryRead(ref seq, out _)).Error);
    }

    [Fact]
    public void HugeUnterminatedTag_InOneBuffer_FailsWithoutScanningEverything()
    {
        var opts = new XmlParserOptions { MaxStanzaBytes = 4096 };
        var data = new byte[10 * 1024 * 1024];
        data.AsSpan().Fill((byte)'a');
        Utf8("<message to='").CopyTo(data, 0);
        var full = Utf8(H).Concat(data).ToArray();
        Assert.Equal(XmlParseError.StanzaTooLarge, ParseError(full, opts));
        // Also with text content and no end tag, fed in chunks.
        var text = Utf8(H + "<message><body>").Concat(data.AsSpan(0, 100_000).ToArray()).ToArray();
        Assert.Equal("error:StanzaTooLarge", Parse(text, opts, _ => 8192)[^1]);
    }

    [Fact]
    public void TooDeep()
    {
        var opts = new XmlParserOptions { MaxDepth = 3 };
        Assert.Equal(2, ParseWhole(S + "<a><b><c/></b></a>", opts).Count);
        Assert.Equal("error:TooDeep", ParseWhole(S + "<a><b><c><d/></c></b></a>", opts)[^1]);
        Assert.Equal("error:TooDeep", ParseWhole(S + "<a><b><c><d>", opts)[^1]); // detected before the stanza is complete
        Assert.Equal(XmlParseError.TooDeep, ParseError(H + string.Concat(Enumerable.Repeat("<x>", 100))));
    }

    [Fact]
    public void TooManyAttributes_IncludingNamespaceDeclarations()
    {
        var opts = new XmlParserOptions { MaxAttributes = 3 };
        Assert.Equal(2, ParseWhole(S + "<a b='1' c='2' d='3'/>", opts).Count);
        Assert.Equal("error:TooManyAttributes", ParseWhole(S + "<a b='1' c='2' d='3' e='4'/>", opts)[^1]);
        Assert.Equal("error:TooManyAttributes", ParseWhole(S + "<a xmlns='x' xmlns:p='y' c='2' d='3'/>", opts)[^1]);
    }

    [Fact]
    public void NameTooLong()
    {
        var opts = new XmlParserOptions { MaxNameBytes = 8 };
        Assert.Equal(2, ParseWhole(S + "<abcdefgh abcdefgh='1'/>", opts).Count);
        Assert.Equal("error:NameTooLong", ParseWhole(S + "<abcdefghi/>", opts)[^1]);
        Assert.Equal("error:NameTooLong", ParseWhole(S + "<a abcdefghi='1'/>", opts)[^1]);
    }

    [Fact]
    public void FragmentMode_Errors()
    {
        var opts = new XmlParserOptions { FragmentMode = true };
        Assert.Equal(XmlParseError.NotWellFormed, ParseError("<a/>x", opts));
        Assert.Equal(XmlParseError.RestrictedXml, ParseError("<a/><!-- c -->", opts));
        Assert.Equal(XmlParseError.NotWellFormed, ParseError("<a></b>", opts));
        Assert.Equal(XmlParseError.StanzaTooLarge, ParseError("<a>" + new string('x', 100), opts with { MaxStanzaBytes = 50 }));
    }
}

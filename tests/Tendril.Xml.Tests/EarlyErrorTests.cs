using System.Buffers;
using Tendril.Xml;
using static Tendril.Xml.Tests.TestUtil;

namespace Tendril.Xml.Tests;

/// <summary>
/// Malformed input that a well-formed document could never continue must be rejected by the scanner as soon as the
/// offending bytes arrive, not when the stanza completes (which may never happen) or the size limit is reached.
/// Every input here is a prefix fed WITHOUT any following bytes.
/// </summary>
public class EarlyErrorTests
{
    private const string H = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

    public static TheoryData<string> MalformedPrefixes() => new()
    {
        // mismatched end tags
        H + "<message><body>x</message>",
        H + "<message><body>x</message",          // longer than "body": certain before the '>'
        H + "<message><body>x</bodz>",
        H + "<message><body>x</bod>",
        H + "<message><body>x</>",
        H + "<message><body>x</ body>",
        H + "<p:a xmlns:p='u'></q:a>",
        H + "<p:a xmlns:p='u'><p:b></p:a>",
        H + "<p:a xmlns:p='u'></a>",
        H + "<a><a><a></a></a><b></a>",           // nested same-named elements
        H + "<a><b/></b>",                        // a self-closed element is not open
        H + "<a><b/><c x='1'/></c>",
        H + "<abcdefghijklmnopqrstuvwxyz><x></abcdefghijklmnopqrstuvwxyz>",
        H + "<abcdefghijklmnopqrstuvwxyz></abcdefghijklmnopqrstuvwxyZ>",
        H + "<abcdefghijklmnop></abcdefghijklmnoq>",
        H + "<caf\u00e9><x></caf\u00e9>",
        H + "</stream:streamx",
        H + "</stream:stream x",
        H + "<message/></stream:foo>",
        // garbage in end tags
        H + "<message></message x",
        H + "<message></message/",
        H + "<message></message='",
        // attributes
        H + "<message to='a'b'/>",
        H + "<message to='a'b",
        H + "<message to=\"a\"b=\"c\"",
        H + "<message to='a'='",
        H + "<message to='a'\"",
        H + "<a b'c'/>",
        H + "<a b 'c'/>",
        H + "<a b=",                                // not yet malformed...
        H + "<a b=c",                               // ...but this is
        H + "<a b= c",
        H + "<a b='1' ='2'",
        H + "<a ='2'",
        H + "<a b='1' c>",
        H + "<a b='1' c/",
        H + "<a b>",
        H + "<a'",
        H + "<a=",
        H + "<a\"b",
        H + "< a",
        H + "<>",
        H + "<a/ >",
        H + "<a b='1' / >",
        H + "<a b='1'/x",
        H + "<message><body a='1'b",
        H + "<message><x><y/><z x='1' y='2'z",
        // the stream header itself
        "<stream:stream xmlns='jabber:client' to='a'from='b'",
        "<stream:stream to'a'",
        "<stream:stream'",
    };

    [Theory]
    [MemberData(nameof(MalformedPrefixes))]
    public void MalformedPrefix_FailsImmediately_AtAnyChunking(string prefix)
    {
        if (prefix.EndsWith("<a b=", StringComparison.Ordinal))
        {
            // Control: a prefix that a well-formed document can still continue is not rejected.
            var ok = ParseWhole(prefix);
            Assert.StartsWith("start:", Assert.Single(ok), StringComparison.Ordinal);
            return;
        }
        AssertFailsEverywhere(Utf8(prefix), null, XmlParseError.NotWellFormed);
    }

    [Fact]
    public void MismatchedEndTag_ThrowsFromTheTryReadThatDeliversIt()
    {
        var parser = new XmlStreamParser();
        var seq = new ReadOnlySequence<byte>(Utf8(H));
        Assert.True(parser.TryRead(ref seq, out var ev));
        Assert.Equal(XmlStreamEventKind.StreamStart, ev.Kind);
        seq = new ReadOnlySequence<byte>(Utf8("<message><body>x</mess"));
        Assert.False(parser.TryRead(ref seq, out _));
        seq = new ReadOnlySequence<byte>(Utf8("age>"));
        Assert.Equal(XmlParseError.NotWellFormed, Assert.Throws<XmlParseException>(() => parser.TryRead(ref seq, out _)).Error);
    }

    [Fact]
    public void MismatchedEndTag_SameNameSplitAcrossSegments()
    {
        var parser = new XmlStreamParser();
        var seq = Segments(Utf8(H + "<p:a xmlns:p='u'><p:b></p"), Utf8(":"), Utf8("a"), Utf8(" "));
        Assert.True(parser.TryRead(ref seq, out _));
        Assert.Equal(XmlParseError.NotWellFormed, Assert.Throws<XmlParseException>(() => parser.TryRead(ref seq, out _)).Error);
    }

    [Theory]
    [InlineData("<p:a xmlns:p='u'></p:a>")]
    [InlineData("<p:a xmlns:p='u'><p:b/><p:b></p:b><b/></p:a >")]
    [InlineData("<a><a><a></a><a/></a><a></a></a>")]
    [InlineData("<a\n\tb\r\n=\t'1'\n c = \"2\"\t/>")]
    [InlineData("<a b='1'\t></a\r\n>")]
    [InlineData("<abcdefgh><abcdefghi><abcdefghijklmnop><abcdefghijklmnopq></abcdefghijklmnopq></abcdefghijklmnop></abcdefghi></abcdefgh>")]
    [InlineData("<abcdefghijklmnopqrstuvwxyz0123456789 x='/>'>t</abcdefghijklmnopqrstuvwxyz0123456789>")]
    [InlineData("<caf\u00e9 \u00e9='\u00e9'><\u20ac\U0001F600x/></caf\u00e9>")]
    [InlineData("<a b='x=\"y\" c' d=\"'\"/>")]
    public void WellFormedStanzas_ParseAtAnySplit(string stanza)
    {
        var data = Utf8(H + stanza + "</stream:stream>");
        var expected = ParseWhole(data);
        Assert.Equal(3, expected.Count);
        Assert.StartsWith("stanza:", expected[1], StringComparison.Ordinal);
        Assert.Equal("end", expected[2]);
        AssertSameAtEverySplit(data, null, expected);
    }

    [Fact]
    public void DepthAtMaxDepth()
    {
        var opts = new XmlParserOptions { MaxDepth = 4 };
        var ok = Utf8(H + "<a><b><c><d></d></c></b></a><a><b><c><d/></c></b></a></stream:stream>");
        var expected = ParseWhole(ok, opts);
        Assert.Equal(4, expected.Count);
        AssertSameAtEverySplit(ok, opts, expected);

        AssertFailsEverywhere(Utf8(H + "<a><b><c><d></c>"), opts, XmlParseError.NotWellFormed);
        AssertFailsEverywhere(Utf8(H + "<a><b><c><d></d></c></b></d>"), opts, XmlParseError.NotWellFormed);
        AssertFailsEverywhere(Utf8(H + "<a><b><c><d><e"), opts, XmlParseError.TooDeep);
    }

    [Fact]
    public void Limits_FailImmediately()
    {
        AssertFailsEverywhere(Utf8(H + "<a b='1' c='2' d='3' e="), new XmlParserOptions { MaxAttributes = 3 }, XmlParseError.TooManyAttributes);
        AssertFailsEverywhere(Utf8(H + "<message><abcdefghi"), new XmlParserOptions { MaxNameBytes = 8 }, XmlParseError.NameTooLong);
    }

    [Fact]
    public void FragmentMode_MismatchFailsImmediately()
    {
        var opts = new XmlParserOptions { FragmentMode = true };
        AssertFailsEverywhere(Utf8("<a><b></a>"), opts, XmlParseError.NotWellFormed);
        AssertFailsEverywhere(Utf8("<a/><b c='1'd"), opts, XmlParseError.NotWellFormed);
        var ok = Utf8("<a><b></b></a><x:a xmlns:x='u'><x:a/></x:a>");
        var expected = ParseWhole(ok, opts);
        Assert.Equal(2, expected.Count);
        AssertSameAtEverySplit(ok, opts, expected);
    }

    /// <summary>The input must fail with <paramref name="error"/> without more bytes: whole, split anywhere, byte by byte.</summary>
    private static void AssertFailsEverywhere(byte[] data, XmlParserOptions? opts, XmlParseError error)
    {
        var expected = "error:" + error;
        Assert.Equal(expected, ParseWhole(data, opts)[^1]);
        Assert.Equal(expected, Parse(data, opts, _ => 1)[^1]);
        for (var split = 1; split < data.Length; split++)
        {
            var at = split;
            Assert.Equal(expected, Parse(data, opts, offset => offset == 0 ? at : int.MaxValue)[^1]);
        }
    }

    private static void AssertSameAtEverySplit(byte[] data, XmlParserOptions? opts, List<string> expected)
    {
        Assert.Equal(expected, Parse(data, opts, _ => 1));
        for (var split = 1; split < data.Length; split++)
        {
            var at = split;
            Assert.Equal(expected, Parse(data, opts, offset => offset == 0 ? at : int.MaxValue));
        }
    }
}

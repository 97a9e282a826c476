using System.Buffers;
using Tendril.Xml;
using static Tendril.Xml.Tests.TestUtil;

namespace Tendril.Xml.Tests;

public class ChunkingTests
{
    private static readonly byte[] s_stream = Utf8(RealisticStream);

    [Fact]
    public void WholeBuffer_ProducesExpectedEvents()
    {
        var events = ParseWhole(s_stream);
        Assert.Equal(8, events.Count);
        Assert.StartsWith("start:jabber:client:stream{http://etherx.jabber.org/streams}", events[0], StringComparison.Ordinal);
        Assert.Contains("body{jabber:client}[](\"Wherefore art thou, Romeo? <3 & caf\u00e9 \u20ac \U0001F339\",)", events[2], StringComparison.Ordinal);
        Assert.Contains("\"Gr\u00fc\u00dfe \U0001F600 \u00e9\"", events[3], StringComparison.Ordinal);
        Assert.Contains("name{}=T\u00e9st \\u0022q\\u0022;", events[5], StringComparison.Ordinal);
        Assert.Contains("\"<b>bold</b> & ]] ]>tail\"", events[6], StringComparison.Ordinal);
        Assert.Contains("x{jabber:client}[a{urn:p}=1;a{}=2;]", events[6], StringComparison.Ordinal);
        Assert.Equal("end", events[7]);
    }

    [Fact]
    public void SplitAtEveryBytePosition_GivesIdenticalEvents()
    {
        var expected = ParseWhole(s_stream);
        for (var split = 1; split < s_stream.Length; split++)
        {
            var at = split;
            var actual = Parse(s_stream, null, offset => offset == 0 ? at : int.MaxValue);
            Assert.True(expected.SequenceEqual(actual), $"split at {split}");
        }
    }

    [Fact]
    public void TwoSplitsAtManyPositions_GiveIdenticalEvents()
    {
        var expected = ParseWhole(s_stream);
        for (var a = 1; a < s_stream.Length; a += 7)
        {
            for (var b = a + 1; b < s_stream.Length; b += 13)
            {
                int first = a, second = b - a;
                var actual = Parse(s_stream, null, offset => offset == 0 ? first : offset == first ? second : int.MaxValue);
                Assert.True(expected.SequenceEqual(actual), $"splits at {a},{b}");
            }
        }
    }

    [Fact]
    public void ByteByByte_GivesIdenticalEvents()
    {
        Assert.Equal(ParseWhole(s_stream), Parse(s_stream, null, _ => 1));
    }

    [Fact]
    public void RandomChunkings_GiveIdenticalEvents()
    {
        var expected = ParseWhole(s_stream);
        var random = new Random(12345);
        for (var i = 0; i < 300; i++)
        {
            var max = random.Next(1, 64);
            Assert.Equal(expected, Parse(s_stream, null, _ => random.Next(1, max + 1)));
        }
    }

    [Fact]
    public void MultiSegmentSequences_GiveIdenticalEvents()
    {
        var expected = ParseWhole(s_stream);
        var random = new Random(777);
        for (var iteration = 0; iteration < 200; iteration++)
        {
            var pieces = new List<byte[]>();
            var offset = 0;
            while (offset < s_stream.Length)
            {
                // Include empty segments now and then.
                var n = random.Next(0, 40) == 0 ? 0 : Math.Min(random.Next(1, 50), s_stream.Length - offset);
                pieces.Add(s_stream.AsSpan(offset, n).ToArray());
                offset += n;
            }
            var seq = Segments(pieces.ToArray());
            var parser = new XmlStreamParser();
            var actual = new List<string>();
            while (parser.TryRead(ref seq, out var ev)) actual.Add(Describe(ev));
            Assert.True(seq.IsEmpty);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void MultiSegment_UnconsumedRestIsCorrectlySliced()
    {
        var header = Utf8(StreamHeader);
        var seq = Segments(header[..10], header[10..], Utf8("<a/><b"), Utf8("/>"));
        var parser = new XmlStreamParser();
        Assert.True(parser.TryRead(ref seq, out var ev));
        Assert.Equal(XmlStreamEventKind.StreamStart, ev.Kind);
        Assert.Equal(8, seq.Length);
        Assert.True(parser.TryRead(ref seq, out ev));
        Assert.Equal("a", ev.Element!.Name);
        Assert.Equal(4, seq.Length);
        Assert.True(parser.TryRead(ref seq, out ev));
        Assert.Equal("b", ev.Element!.Name);
        Assert.True(seq.IsEmpty);
    }

    [Fact]
    public void Errors_DoNotDependOnChunking()
    {
        string[] docs =
        [
            StreamHeader + "<message><body>&foo;</body></message>",
            StreamHeader + "<message><a></b></message>",
            StreamHeader + "<message><!-- c --></message>",
            StreamHeader + "<message>\u00e9</message>x",
        ];
        var random = new Random(99);
        foreach (var doc in docs)
        {
            var data = Utf8(doc);
            var expected = ParseWhole(data);
            Assert.StartsWith("error:", expected[^1], StringComparison.Ordinal);
            Assert.Equal(expected, Parse(data, null, _ => 1));
            for (var i = 0; i < 50; i++) Assert.Equal(expected, Parse(data, null, _ => random.Next(1, 20)));
        }
    }

    [Fact]
    public void FragmentMode_SplitAtEveryBytePosition()
    {
        var opts = new XmlParserOptions { FragmentMode = true };
        var data = Utf8("<?xml version='1.0'?><open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='x'/>\n<message xmlns='jabber:client' to='\u00e9'><body>\U0001F600 &amp; <![CDATA[x]]></body></message> ");
        var expected = ParseWhole(data, opts);
        Assert.Equal(2, expected.Count);
        for (var split = 1; split < data.Length; split++)
        {
            var at = split;
            Assert.Equal(expected, Parse(data, opts, offset => offset == 0 ? at : int.MaxValue));
        }
    }
}

using System.Buffers;
using System.Text;
using Tendril.Xml;
using static Tendril.Xml.Tests.TestUtil;

namespace Tendril.Xml.Tests;

/// <summary>parse(write(e)) == e for random element trees (seeded, so failures reproduce).</summary>
public class RoundTripTests
{
    private static readonly string[] s_names = ["message", "body", "x", "a-b", "n.1", "_u", "caf\u00e9", "\u4e2d", "\U0001F600x", "q"];
    private static readonly string[] s_namespaces = ["", "jabber:client", "urn:a", "urn:b?x=1&y=<2>", "http://jabber.org/protocol/caps", "urn:\u00e9\U0001F600"];
    private static readonly string[] s_attrNs = ["", "", "", XmlNamespaces.Xml, "urn:p", "urn:q\"'"];
    private static readonly string[] s_fragments = ["a", " ", "&", "<", ">", "\"", "'", "\t", "\n", "\r", "\r\n", "]]>", "]", "\u00e9", "\u20ac", "\U0001F600", "&amp;", "hello world", "\u007f"];

    private static string RandomString(Random r, int maxParts, bool allowEmpty)
    {
        var sb = new StringBuilder();
        var parts = r.Next(allowEmpty ? 0 : 1, maxParts + 1);
        for (var i = 0; i < parts; i++) sb.Append(s_fragments[r.Next(s_fragments.Length)]);
        return sb.ToString();
    }

    internal static XmlElement RandomElement(Random r, int depth)
    {
        var e = new XmlElement(s_names[r.Next(s_names.Length)], s_namespaces[r.Next(s_namespaces.Length)]);
        var attrs = r.Next(0, 5);
        for (var i = 0; i < attrs; i++)
        {
            // SetAttribute replaces duplicates, keeping (name, ns) unique like the parser requires.
            e.SetAttribute(s_names[r.Next(s_names.Length)], RandomString(r, 4, allowEmpty: true), s_attrNs[r.Next(s_attrNs.Length)]);
        }
        var children = depth > 4 ? 0 : r.Next(0, 5);
        var lastWasText = false;
        for (var i = 0; i < children; i++)
        {
            if (!lastWasText && r.Next(3) == 0)
            {
                e.Add(RandomString(r, 6, allowEmpty: false));
                lastWasText = true;
            }
            else
            {
                e.Add(RandomElement(r, depth + 1));
                lastWasText = false;
            }
        }
        return e;
    }

    [Fact]
    public void RandomTrees_RoundTripInFragmentMode()
    {
        var r = new Random(20240601);
        for (var i = 0; i < 2000; i++)
        {
            var e = RandomElement(r, 1);
            var xml = e.ToString();
            XmlElement back;
            try
            {
                back = ParseFragment(xml);
            }
            catch (XmlParseException ex)
            {
                throw new Xunit.Sdk.XunitException($"iteration {i}: {ex.Error} {ex.Message} for {xml}");
            }
            Assert.True(Dump(e) == Dump(back), $"iteration {i}: {xml}");
        }
    }

    [Fact]
    public void RandomTrees_RoundTripAsStanzasOnAStream_ChunkedRandomly()
    {
        var r = new Random(4242);
        var elements = new List<XmlElement>();
        var output = new ArrayBufferWriter<byte>();
        output.Write(Utf8(StreamHeader));
        for (var i = 0; i < 300; i++)
        {
            var e = RandomElement(r, 1);
            elements.Add(e);
            XmlWriter.Write(output, e, "jabber:client");
            if (r.Next(3) == 0) output.Write(" \n"u8);
        }
        output.Write("</stream:stream>"u8);
        var data = output.WrittenSpan.ToArray();
        var events = Parse(data, new XmlParserOptions { MaxDepth = 64 }, _ => r.Next(1, 200));
        Assert.Equal(elements.Count + 2, events.Count);
        for (var i = 0; i < elements.Count; i++)
        {
            Assert.Equal("stanza:jabber:client:" + Dump(elements[i]), events[i + 1]);
        }
        Assert.Equal("end", events[^1]);
    }
}

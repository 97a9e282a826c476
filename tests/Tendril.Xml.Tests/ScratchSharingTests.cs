using System.Buffers;
using Tendril.Xml;
using static Tendril.Xml.Tests.TestUtil;

namespace Tendril.Xml.Tests;

/// <summary>
/// Parsers borrow their scratch arrays (element frames, attributes, decoded text) from the parsing thread for the
/// duration of one unit. These tests interleave parsers on one thread, and run many on many threads, and check that
/// no parser sees another's state.
/// </summary>
public class ScratchSharingTests
{
    private static readonly byte[] s_stream = Utf8(RealisticStream);

    [Fact]
    public void InterleavedParsersOnOneThread_EachGiveTheirOwnEvents()
    {
        var expected = ParseWhole(s_stream);
        // Three parsers fed in turns, each with a different chunking, so their units complete at different moments
        // and often while another parser has a partial unit buffered.
        int[] chunk = [1, 7, 23];
        var parsers = new XmlStreamParser[3];
        var events = new List<string>[3];
        var offsets = new int[3];
        for (var i = 0; i < 3; i++)
        {
            parsers[i] = new XmlStreamParser();
            events[i] = [];
        }
        while (offsets.Any(o => o < s_stream.Length))
        {
            for (var i = 0; i < 3; i++)
            {
                if (offsets[i] >= s_stream.Length) continue;
                var n = Math.Min(chunk[i], s_stream.Length - offsets[i]);
                var seq = new ReadOnlySequence<byte>(s_stream, offsets[i], n);
                offsets[i] += n;
                while (parsers[i].TryRead(ref seq, out var ev)) events[i].Add(Describe(ev));
            }
        }
        for (var i = 0; i < 3; i++) Assert.Equal(expected, events[i]);
    }

    [Fact]
    public void AFailedUnit_LeavesTheThreadsScratchUsableForTheNextParser()
    {
        // Deep nesting, many attributes and entity-decoded text grow every scratch array, then the unit fails.
        var deep = string.Concat(Enumerable.Repeat("<a x='&amp;' y='2' z='3' w='4' v='5' u='6' t='7' s='8' r='9'>", 40));
        var bad = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><message>" + deep + "&lt;text&gt;</b></message>";
        Assert.StartsWith("error:", ParseWhole(bad).Last(), StringComparison.Ordinal);
        Assert.Equal(ParseWhole(s_stream), ParseWhole(s_stream));
    }

    [Fact]
    public async Task ManyThreads_ParseConcurrently_WithoutInterference()
    {
        var expected = ParseWhole(s_stream);
        var tasks = Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var round = 0; round < 50; round++)
            {
                var size = 1 + (round * 7 + t) % 40;
                var actual = Parse(s_stream, null, _ => size);
                if (!expected.SequenceEqual(actual)) return false;
            }
            return true;
        })).ToArray();
        Assert.All(await Task.WhenAll(tasks), Assert.True);
    }
}

using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Tendril.Xml;

namespace Tendril.Benchmarks;

/// <summary>Builds a realistic c2s byte stream: chat messages, presence with caps, roster and disco iqs, keepalives.</summary>
internal static class StanzaCorpus
{
    public const int StanzaCount = 1000;

    public const string Header =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
        "to='example.com' from='juliet@example.com' version='1.0' xml:lang='en'>";

    private static readonly string[] s_stanzas =
    [
        "<message to='romeo@example.net/orchard' from='juliet@example.com/balcony' type='chat' id='ktx72v49' xml:lang='en'>" +
        "<body>Art thou not Romeo, and a Montague? Neither, fair saint, if either thee dislike.</body>" +
        "<thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread>" +
        "<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/>" +
        "<origin-id xmlns='urn:xmpp:sid:0' id='5e9d2c33-6f5f-4b7a-9a43-1a2b3c4d5e6f'/></message>",

        "<message to='romeo@example.net' from='juliet@example.com/balcony' type='chat' id='c2'>" +
        "<composing xmlns='http://jabber.org/protocol/chatstates'/><no-store xmlns='urn:xmpp:hints'/></message>",

        "<message to='romeo@example.net' type='chat' id='u1'><body>Caf\u00e9 \u00e0 l'heure ? \U0001F339 &lt;3 &amp; bisous</body>" +
        "<markable xmlns='urn:xmpp:chat-markers:0'/></message>",

        "<presence from='juliet@example.com/balcony' id='p1'><show>away</show><status>Out on the balcony</status>" +
        "<priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' " +
        "ver='QHs5OKMRTnVc4F1fCxe3wjjQD8E='/><x xmlns='vcard-temp:x:update'><photo>01b87fcd030b72895ff8e88db57ec525450f000d</photo></x></presence>",

        "<iq type='get' id='roster_1'><query xmlns='jabber:iq:roster' ver='ver11'/></iq>",

        "<iq type='result' id='disco1' to='juliet@example.com/balcony' from='example.com'>" +
        "<query xmlns='http://jabber.org/protocol/disco#info'><identity category='server' type='im' name='Tendril'/>" +
        "<feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/>" +
        "<feature var='urn:xmpp:ping'/><feature var='urn:xmpp:carbons:2'/><feature var='urn:xmpp:mam:2'/>" +
        "<feature var='jabber:iq:roster'/></query></iq>",

        "<iq type='set' id='push1'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com' name='Nurse' " +
        "subscription='both'><group>Servants</group></item></query></iq>",

        "<iq type='get' id='ping1' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>",
    ];

    /// <summary>The header plus <see cref="StanzaCount"/> stanzas (with whitespace keepalives); also returns the stanza bytes.</summary>
    public static byte[] Build(out int stanzaBytes)
    {
        var sb = new StringBuilder(Header);
        var headerLength = Encoding.UTF8.GetByteCount(Header);
        for (var i = 0; i < StanzaCount; i++)
        {
            sb.Append(s_stanzas[i % s_stanzas.Length]);
            if (i % 50 == 49) sb.Append(' ');
        }
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        stanzaBytes = bytes.Length - headerLength;
        return bytes;
    }
}

/// <summary>
/// Parser throughput. Each operation parses the stream header and <see cref="StanzaCorpus.StanzaCount"/> stanzas;
/// <c>OperationsPerInvoke</c> makes BenchmarkDotNet report time and allocations <b>per stanza</b>.
/// Throughput: MB/s = <see cref="AverageStanzaBytes"/> / Mean. The corpus averages ~300 bytes per stanza
/// (printed by <see cref="Setup"/>); e.g. 1 µs per stanza ≈ 300 MB/s.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("Parser")]
public class ParserBenchmarks
{
    private byte[] _data = [];
    private ReadOnlySequence<byte> _segmented;
    private readonly XmlStreamParser _parser = new();

    public double AverageStanzaBytes { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = StanzaCorpus.Build(out var stanzaBytes);
        AverageStanzaBytes = (double)stanzaBytes / StanzaCorpus.StanzaCount;
        Console.WriteLine($"// Corpus: {_data.Length} bytes, {StanzaCorpus.StanzaCount} stanzas, {AverageStanzaBytes:F1} bytes/stanza");
        _segmented = Segment.Split(_data, 1460); // TCP-segment-sized pieces: many stanzas straddle a boundary
    }

    /// <summary>Whole corpus in one contiguous buffer (stanzas parsed in place).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = StanzaCorpus.StanzaCount)]
    public int ParseContiguous() => Run(new ReadOnlySequence<byte>(_data));

    /// <summary>Corpus as a multi-segment sequence of 1460-byte segments (straddling stanzas are copied to scratch).</summary>
    [Benchmark(OperationsPerInvoke = StanzaCorpus.StanzaCount)]
    public int ParseSegmented() => Run(_segmented);

    /// <summary>Corpus delivered in separate 1460-byte reads, as from a socket.</summary>
    [Benchmark(OperationsPerInvoke = StanzaCorpus.StanzaCount)]
    public int ParseInReads()
    {
        _parser.Reset();
        var count = 0;
        for (var offset = 0; offset < _data.Length; offset += 1460)
        {
            var seq = new ReadOnlySequence<byte>(_data, offset, Math.Min(1460, _data.Length - offset));
            while (_parser.TryRead(ref seq, out _)) count++;
        }
        return count;
    }

    private int Run(ReadOnlySequence<byte> seq)
    {
        _parser.Reset();
        var count = 0;
        while (_parser.TryRead(ref seq, out _)) count++;
        return count;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Split(byte[] data, int size)
        {
            var first = new Segment(data.AsMemory(0, Math.Min(size, data.Length)), 0);
            var last = first;
            for (var offset = size; offset < data.Length; offset += size)
            {
                var next = new Segment(data.AsMemory(offset, Math.Min(size, data.Length - offset)), offset);
                last.Next = next;
                last = next;
            }
            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}

/// <summary>Writer throughput: serializes the parsed corpus stanzas (per-stanza time and allocations).</summary>
[MemoryDiagnoser]
[BenchmarkCategory("Writer")]
public class WriterBenchmarks
{
    private readonly List<XmlElement> _stanzas = [];
    private readonly ArrayBufferWriter<byte> _output = new(1 << 20);

    [GlobalSetup]
    public void Setup()
    {
        var parser = new XmlStreamParser();
        var seq = new ReadOnlySequence<byte>(StanzaCorpus.Build(out _));
        while (parser.TryRead(ref seq, out var ev))
        {
            if (ev.Kind == XmlStreamEventKind.Stanza) _stanzas.Add(ev.Element!);
        }
    }

    [Benchmark(OperationsPerInvoke = StanzaCorpus.StanzaCount)]
    public int WriteStanzas()
    {
        _output.ResetWrittenCount();
        foreach (var stanza in _stanzas) XmlWriter.Write(_output, stanza, "jabber:client");
        return _output.WrittenCount;
    }
}

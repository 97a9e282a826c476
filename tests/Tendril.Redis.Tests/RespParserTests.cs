using System.Buffers;
using System.Text;
using Tendril.Redis.Internal;

namespace Tendril.Redis.Tests;

/// <summary>The RESP2 parser on its own: every reply type, every split point, incomplete and malformed input.</summary>
public class RespParserTests
{
    public static TheoryData<string> WellFormed => new()
    {
        "+OK\r\n",
        "+QUEUED\r\n",
        "+hello world\r\n",
        "-ERR unknown command 'FOO'\r\n",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ":0\r\n",
        ":-1\r\n",
        ":255\r\n",
        ":9223372036854775807\r\n",
        ":-9223372036854775808\r\n",
        "$5\r\nhello\r\n",
        "$0\r\n\r\n",
        "$-1\r\n",
        "$12\r\nline\r\nbreaks\r\n",
        "*0\r\n",
        "*-1\r\n",
        "*3\r\n$3\r\nfoo\r\n$-1\r\n:42\r\n",
        "*2\r\n*2\r\n:1\r\n*1\r\n+deep\r\n*0\r\n",
        "*3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$7\r\npayload\r\n",
        "*2\r\n-ERR inside\r\n+OK\r\n",
    };

    [Theory]
    [MemberData(nameof(WellFormed))]
    public void Parses_at_every_split_point_and_consumes_nothing_until_complete(string wire)
    {
        var bytes = Encoding.UTF8.GetBytes(wire);
        string expected = Describe(ParseWhole(bytes));
        for (int split = 0; split <= bytes.Length; split++)
        {
            // The first part alone is incomplete (unless it is everything): nothing parsed, nothing consumed.
            var head = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 0, split));
            if (split < bytes.Length)
            {
                Assert.False(RespParser.TryParse(ref head, out _));
                Assert.Equal(0, head.Consumed);
            }
            // Both parts as two segments of one sequence.
            var sequence = Segments(bytes, split);
            var reader = new SequenceReader<byte>(sequence);
            Assert.True(RespParser.TryParse(ref reader, out var result));
            Assert.Equal(bytes.Length, reader.Consumed);
            Assert.Equal(expected, Describe(result));
        }
    }

    [Theory]
    [MemberData(nameof(WellFormed))]
    public void Parses_one_byte_per_segment(string wire)
    {
        var bytes = Encoding.UTF8.GetBytes(wire);
        var reader = new SequenceReader<byte>(Segments(bytes, Enumerable.Range(1, bytes.Length - 1).ToArray()));
        Assert.True(RespParser.TryParse(ref reader, out var result));
        Assert.Equal(Describe(ParseWhole(bytes)), Describe(result));
        Assert.True(reader.End);
    }

    [Fact]
    public void Reply_values_are_decoded()
    {
        var array = ParseWhole("*6\r\n$3\r\nfoo\r\n$-1\r\n:42\r\n+OK\r\n-ERR bad\r\n*-1\r\n"u8.ToArray());
        Assert.Equal(RedisResultKind.Array, array.Kind);
        var items = array.Items;
        Assert.Equal(6, items.Count);
        Assert.Equal((RedisResultKind.BulkString, "foo"), (items[0].Kind, items[0].AsString()));
        Assert.True(items[1].IsNull);
        Assert.Null(items[1].AsString());
        Assert.Equal(RedisResultKind.BulkString, items[1].Kind);
        Assert.Equal(42, items[2].AsInt64());
        Assert.Equal(RedisResultKind.Integer, items[2].Kind);
        Assert.Equal((RedisResultKind.SimpleString, "OK"), (items[3].Kind, items[3].AsString()));
        Assert.Equal((RedisResultKind.Error, "ERR bad"), (items[4].Kind, items[4].AsString()));
        Assert.True(items[5].IsNull);
        Assert.Equal(RedisResultKind.Array, items[5].Kind);
        Assert.Empty(items[5].Items);
    }

    [Fact]
    public void Binary_bulk_strings_keep_every_byte()
    {
        var payload = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var wire = Encoding.ASCII.GetBytes("$256\r\n").Concat(payload).Concat("\r\n"u8.ToArray()).ToArray();
        var result = ParseWhole(wire);
        Assert.Equal(payload, result.AsBytes().ToArray());
    }

    [Fact]
    public void Big_bulk_string_across_many_segments_waits_for_all_of_it()
    {
        var payload = new byte[3 * 1024 * 1024 + 7];
        new Random(7).NextBytes(payload);
        var wire = Encoding.ASCII.GetBytes($"${payload.Length}\r\n").Concat(payload).Concat("\r\n"u8.ToArray()).ToArray();
        var splits = Enumerable.Range(1, wire.Length / 65536).Select(i => i * 65536).ToArray();
        var partial = new SequenceReader<byte>(Segments(wire.AsSpan(0, wire.Length - 1).ToArray(), splits.Where(s => s < wire.Length - 1).ToArray()));
        Assert.False(RespParser.TryParse(ref partial, out _));
        Assert.Equal(0, partial.Consumed);
        var reader = new SequenceReader<byte>(Segments(wire, splits));
        Assert.True(RespParser.TryParse(ref reader, out var result));
        Assert.Equal(payload, result.AsBytes().ToArray());
    }

    [Fact]
    public void Several_replies_in_one_buffer_parse_one_at_a_time()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(":1\r\n:2\r\n$1\r\nx\r\n:3"u8.ToArray()));
        Assert.True(RespParser.TryParse(ref reader, out var first));
        Assert.True(RespParser.TryParse(ref reader, out var second));
        Assert.True(RespParser.TryParse(ref reader, out var third));
        long consumed = reader.Consumed;
        Assert.False(RespParser.TryParse(ref reader, out _));
        Assert.Equal(consumed, reader.Consumed);
        Assert.Equal((1L, 2L, "x"), (first.AsInt64(), second.AsInt64(), third.AsString()));
    }

    public static TheoryData<string> Malformed => new()
    {
        "!oops\r\n",             // unknown type byte (RESP3 blob error is not RESP2)
        "%1\r\n",                // RESP3 map
        "+OK\n",                 // LF without CR
        "+O\rK\r\n",             // bare CR in a line
        ":12a\r\n",              // not a number
        ":\r\n",                 // empty number
        ":+5\r\n",               // RESP integers carry no '+'
        ":99999999999999999999\r\n", // overflow
        "$-2\r\n",               // negative length other than -1
        "$3\r\nabcd\r\n",        // bulk longer than announced
        "$3\r\nabc\n\r\n",       // bulk not followed by CRLF
        "$abc\r\n",
        "*-5\r\n",
        "*1\r\n?\r\n",           // bad element
        "$536870913\r\n",        // longer than proto-max-bulk-len
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_input_throws(string wire)
    {
        var bytes = Encoding.UTF8.GetBytes(wire);
        Assert.Throws<RespProtocolException>(() =>
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
            RespParser.TryParse(ref reader, out _);
        });
    }

    [Fact]
    public void Too_deep_nesting_throws()
    {
        var wire = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*1\r\n", RespParser.MaxDepth + 1)) + ":1\r\n");
        Assert.Throws<RespProtocolException>(() =>
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire));
            RespParser.TryParse(ref reader, out _);
        });
        var ok = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*1\r\n", RespParser.MaxDepth)) + ":1\r\n");
        Assert.Equal(1, Unwrap(ParseWhole(ok)).AsInt64());

        static RedisResult Unwrap(RedisResult r) => r.Kind == RedisResultKind.Array ? Unwrap(r.Items[0]) : r;
    }

    [Fact]
    public void Endless_line_without_CRLF_throws_instead_of_buffering_forever()
    {
        var wire = new byte[RespParser.MaxLineBytes + 10];
        wire.AsSpan().Fill((byte)'a');
        wire[0] = (byte)'+';
        Assert.Throws<RespProtocolException>(() =>
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire));
            RespParser.TryParse(ref reader, out _);
        });
    }

    [Fact]
    public void Huge_announced_array_does_not_allocate_before_its_elements_arrive()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>("*16000000\r\n:1\r\n"u8.ToArray()));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.False(RespParser.TryParse(ref reader, out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1024 * 1024);
    }

    private static RedisResult ParseWhole(byte[] bytes)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(RespParser.TryParse(ref reader, out var result));
        Assert.True(reader.End);
        return result;
    }

    private static string Describe(RedisResult r) => r.Kind switch
    {
        RedisResultKind.Array => r.IsNull ? "*nil" : "[" + string.Join(",", r.Items.Select(Describe)) + "]",
        RedisResultKind.Integer => ":" + r.AsInt64(),
        _ => r.Kind + (r.IsNull ? "(nil)" : "(" + Convert.ToHexString(r.AsBytes().Span) + ")"),
    };

    private static ReadOnlySequence<byte> Segments(byte[] bytes, params int[] splits) => Tendril.Tests.Support.Sequences.Split(bytes, splits);
}

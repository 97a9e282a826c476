using System.Buffers;

namespace Tendril.Tests.Support;

/// <summary>
/// Multi-segment byte sequences for parser tests: input split where a socket read could split it (Kestrel's habit of
/// feeding parsers at every split point). Compiled into each test project that needs it (../Support/*.cs).
/// </summary>
public static class Sequences
{
    /// <summary>A sequence of the given pieces, one segment each.</summary>
    public static ReadOnlySequence<byte> Of(params byte[][] pieces)
    {
        Segment? first = null, last = null;
        foreach (var p in pieces)
        {
            if (first is null) first = last = new Segment(p, 0);
            else last = last!.Append(p);
        }
        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    /// <summary><paramref name="bytes"/> cut at each of <paramref name="splits"/> (out-of-range and repeated cuts ignored).</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] splits)
    {
        var cuts = splits.Where(s => s > 0 && s < bytes.Length).Distinct().Order().ToList();
        if (cuts.Count == 0) return new ReadOnlySequence<byte>(bytes);
        cuts.Add(bytes.Length);
        var first = new Segment(bytes.AsMemory(0, cuts[0]), 0);
        var last = first;
        for (var i = 1; i < cuts.Count; i++) last = last.Append(bytes.AsMemory(cuts[i - 1], cuts[i] - cuts[i - 1]));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

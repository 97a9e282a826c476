using System.Numerics;

namespace Tendril.Load;

/// <summary>
/// A compact log-linear latency histogram in the spirit of HdrHistogram: values in microseconds; below 256 µs every
/// value has its own bucket, above that each power of two is split into 128 linear sub-buckets (relative error under
/// 0.8%). Covers up to 2^40 µs (12 days) in 4,480 counters (35 KiB). Recording is lock-free and allocation-free.
/// </summary>
public sealed class LatencyHistogram
{
    private const int LinearBits = 8;              // values < 256 are exact
    private const int SubBuckets = 1 << (LinearBits - 1); // 128 per power of two above
    private const int MaxExponent = 40;
    private const int BucketCount = (1 << LinearBits) + ((MaxExponent - LinearBits + 1) * SubBuckets);

    private readonly long[] _counts = new long[BucketCount];
    private long _total;
    private long _max;
    private long _sum;

    public long Count => Volatile.Read(ref _total);

    public long Max => Volatile.Read(ref _max);

    public double Mean => Count == 0 ? 0 : (double)Volatile.Read(ref _sum) / Count;

    public void Record(long micros)
    {
        if (micros < 0) micros = 0;
        Interlocked.Increment(ref _counts[Index(micros)]);
        Interlocked.Increment(ref _total);
        Interlocked.Add(ref _sum, micros);
        var max = Volatile.Read(ref _max);
        while (micros > max)
        {
            var seen = Interlocked.CompareExchange(ref _max, micros, max);
            if (seen == max) break;
            max = seen;
        }
    }

    internal static int Index(long value)
    {
        if (value < (1 << LinearBits)) return (int)value;
        var exponent = 63 - BitOperations.LeadingZeroCount((ulong)value); // >= LinearBits
        if (exponent > MaxExponent) return BucketCount - 1;
        var shift = exponent - (LinearBits - 1);
        var sub = (int)(value >> shift) - SubBuckets; // 0..127
        return (1 << LinearBits) + ((exponent - LinearBits) * SubBuckets) + sub;
    }

    /// <summary>The highest value that falls into bucket <paramref name="index"/> (what percentiles report, like HdrHistogram).</summary>
    internal static long HighestEquivalent(int index)
    {
        if (index < (1 << LinearBits)) return index;
        var rest = index - (1 << LinearBits);
        var exponent = (rest / SubBuckets) + LinearBits;
        var sub = (rest % SubBuckets) + SubBuckets;
        var shift = exponent - (LinearBits - 1);
        return (((long)sub + 1) << shift) - 1;
    }

    /// <summary>The value at or below which <paramref name="percentile"/> percent of the recorded values fall (0 when empty).</summary>
    public long Percentile(double percentile)
    {
        var total = Count;
        if (total == 0) return 0;
        var rank = (long)Math.Ceiling(percentile / 100.0 * total);
        if (rank < 1) rank = 1;
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank) return Math.Min(HighestEquivalent(i), Max);
        }
        return Max;
    }
}

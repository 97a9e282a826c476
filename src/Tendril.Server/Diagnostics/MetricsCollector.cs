using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Tendril.Server.Diagnostics;

/// <summary>
/// Collects the measurements of the Tendril meters with a <see cref="MeterListener"/> and writes them in the Prometheus
/// text exposition format 0.0.4 (HELP/TYPE lines, counters as <c>_total</c>, histograms as
/// <c>_bucket{le=…}</c>/<c>_sum</c>/<c>_count</c>). Counters and histograms are aggregated as they happen (one
/// lock-free add per measurement once the series exists; a series is created on its first tag combination);
/// observable instruments are read at scrape time.
/// </summary>
public sealed class MetricsCollector : IDisposable
{
    /// <summary>Histogram bucket upper bounds, in the instrument's unit (seconds for durations): 50 µs to 10 s.</summary>
    private static readonly double[] Buckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MeterListener _listener;
    private readonly Func<Meter, bool> _include;
    private readonly List<InstrumentState> _instruments = [];
    private readonly Lock _scrape = new();

    /// <summary>Listens to <paramref name="meters"/> (by reference) and to any meter whose name is in <paramref name="meterNames"/>.</summary>
    public MetricsCollector(IEnumerable<Meter> meters, params string[] meterNames)
    {
        var set = new HashSet<Meter>(meters);
        var names = new HashSet<string>(meterNames, StringComparer.Ordinal);
        _include = m => set.Contains(m) || names.Contains(m.Name);
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (!_include(instrument.Meter)) return;
                var state = new InstrumentState(instrument);
                lock (_instruments) _instruments.Add(state);
                listener.EnableMeasurementEvents(instrument, state);
            },
            MeasurementsCompleted = (instrument, state) =>
            {
                lock (_instruments) _instruments.Remove((InstrumentState)state!);
            },
        };
        _listener.SetMeasurementEventCallback<long>(static (i, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.SetMeasurementEventCallback<int>(static (i, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.SetMeasurementEventCallback<double>(static (i, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.Start();
    }

    /// <summary>The current sum of a counter (over every series matching the optional tag), or null when unknown.</summary>
    public double? GetCounterTotal(string instrumentName, string? tagKey = null, string? tagValue = null)
    {
        InstrumentState? state;
        lock (_instruments) state = _instruments.Find(i => i.Instrument.Name == instrumentName);
        if (state is null) return null;
        double total = 0;
        foreach (var series in state.Snapshot())
        {
            if (tagKey is not null && !series.Has(tagKey, tagValue)) continue;
            total += series.Value;
        }
        return total;
    }

    /// <summary>Reads observable instruments and writes every series in the Prometheus text format.</summary>
    public string Scrape()
    {
        lock (_scrape)
        {
            _listener.RecordObservableInstruments();
            InstrumentState[] instruments;
            lock (_instruments) instruments = [.. _instruments];
            var text = new StringBuilder(4096);
            foreach (var group in instruments.GroupBy(i => PrometheusName(i.Instrument)).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var first = group.First();
                var type = first.Kind switch { Kind.Counter => "counter", Kind.Histogram => "histogram", _ => "gauge" };
                var name = group.Key + (first.Kind == Kind.Counter ? "_total" : "");
                text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(first.Instrument.Description ?? first.Instrument.Name)).Append('\n');
                text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
                foreach (var state in group)
                {
                    foreach (var series in state.Snapshot())
                    {
                        if (first.Kind == Kind.Histogram) WriteHistogram(text, group.Key, series);
                        else WriteSample(text, name, series.Tags, null, series.Value);
                    }
                }
            }
            return text.ToString();
        }
    }

    private static void WriteHistogram(StringBuilder text, string name, Series series)
    {
        long cumulative = 0;
        for (var i = 0; i < Buckets.Length; i++)
        {
            cumulative += Interlocked.Read(ref series.BucketCounts![i]);
            WriteSample(text, name + "_bucket", series.Tags, ("le", FormatDouble(Buckets[i])), cumulative);
        }
        var count = Interlocked.Read(ref series.Count);
        WriteSample(text, name + "_bucket", series.Tags, ("le", "+Inf"), count);
        WriteSample(text, name + "_sum", series.Tags, null, series.Value);
        WriteSample(text, name + "_count", series.Tags, null, count);
    }

    private static void WriteSample(StringBuilder text, string name, KeyValuePair<string, string>[] tags, (string Key, string Value)? extra, double value)
    {
        text.Append(name);
        if (tags.Length > 0 || extra is not null)
        {
            text.Append('{');
            var comma = false;
            foreach (var tag in tags)
            {
                if (comma) text.Append(',');
                text.Append(SanitizeName(tag.Key)).Append("=\"").Append(EscapeLabel(tag.Value)).Append('"');
                comma = true;
            }
            if (extra is { } e)
            {
                if (comma) text.Append(',');
                text.Append(e.Key).Append("=\"").Append(e.Value).Append('"');
            }
            text.Append('}');
        }
        text.Append(' ').Append(FormatDouble(value)).Append('\n');
    }

    private static string FormatDouble(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    internal static string PrometheusName(Instrument instrument)
    {
        var name = SanitizeName(instrument.Name);
        return name;
    }

    private static string SanitizeName(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            var c = chars[i];
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_' || c == ':')) chars[i] = '_';
        }
        if (chars.Length > 0 && char.IsAsciiDigit(chars[0])) return "_" + new string(chars);
        return new string(chars);
    }

    private static string EscapeHelp(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeLabel(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public void Dispose() => _listener.Dispose();

    private enum Kind { Counter, Gauge, Histogram }

    /// <summary>One instrument's series, keyed by tag set. Lookups scan a copy-on-write array: label sets are few.</summary>
    private sealed class InstrumentState
    {
        private readonly Lock _gate = new();
        private Series[] _series = [];

        public InstrumentState(Instrument instrument)
        {
            Instrument = instrument;
            var type = instrument.GetType();
            var generic = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
            Kind = generic == typeof(Histogram<>) ? Kind.Histogram
                : generic == typeof(Counter<>) || generic == typeof(ObservableCounter<>) ? Kind.Counter
                : Kind.Gauge;
            Observable = instrument.IsObservable;
        }

        public Instrument Instrument { get; }

        public Kind Kind { get; }

        public bool Observable { get; }

        public Series[] Snapshot() => Volatile.Read(ref _series);

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = Find(tags) ?? Add(tags);
            if (Kind == Kind.Histogram)
            {
                var bucket = Array.BinarySearch(Buckets, value);
                if (bucket < 0) bucket = ~bucket;
                if (bucket < Buckets.Length) Interlocked.Increment(ref series.BucketCounts![bucket]);
                Interlocked.Increment(ref series.Count);
                AddDouble(ref series.Value, value);
            }
            else if (Observable)
            {
                Volatile.Write(ref series.Value, value); // observed cumulative totals and levels: the last value wins
            }
            else
            {
                AddDouble(ref series.Value, value);
            }
        }

        private Series? Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var series in Volatile.Read(ref _series))
            {
                if (series.Matches(tags)) return series;
            }
            return null;
        }

        private Series Add(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_gate)
            {
                if (Find(tags) is { } existing) return existing;
                var created = new Series(tags, Kind == Kind.Histogram ? new long[Buckets.Length] : null);
                Volatile.Write(ref _series, [.. _series, created]);
                return created;
            }
        }

        private static void AddDouble(ref double target, double value)
        {
            var current = Volatile.Read(ref target);
            while (true)
            {
                var seen = Interlocked.CompareExchange(ref target, current + value, current);
                if (seen.Equals(current)) return;
                current = seen;
            }
        }
    }

    private sealed class Series
    {
        public readonly KeyValuePair<string, string>[] Tags;
        public readonly long[]? BucketCounts;
        public double Value;
        public long Count;

        public Series(ReadOnlySpan<KeyValuePair<string, object?>> tags, long[]? buckets)
        {
            var copy = new KeyValuePair<string, string>[tags.Length];
            for (var i = 0; i < tags.Length; i++) copy[i] = new(tags[i].Key, Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? "");
            Array.Sort(copy, (a, b) => string.CompareOrdinal(a.Key, b.Key));
            Tags = copy;
            BucketCounts = buckets;
        }

        public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length != Tags.Length) return false;
            foreach (var tag in tags)
            {
                var found = false;
                foreach (var own in Tags)
                {
                    if (!string.Equals(own.Key, tag.Key, StringComparison.Ordinal)) continue;
                    found = tag.Value is string s ? string.Equals(own.Value, s, StringComparison.Ordinal)
                        : string.Equals(own.Value, Convert.ToString(tag.Value, CultureInfo.InvariantCulture), StringComparison.Ordinal);
                    break;
                }
                if (!found) return false;
            }
            return true;
        }

        public bool Has(string key, string? value)
        {
            foreach (var own in Tags)
            {
                if (own.Key == key) return value is null || own.Value == value;
            }
            return false;
        }
    }
}

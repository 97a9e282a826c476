using System.Diagnostics.Metrics;
using Tendril.Server.Diagnostics;

namespace Tendril.Server.Tests.Operations;

public sealed class MetricsCollectorTests
{
    [Fact]
    public void Counters_gauges_and_histograms_are_written_in_the_prometheus_text_format()
    {
        using var meter = new Meter("Test.Metrics." + Guid.NewGuid().ToString("N"));
        using var collector = new MetricsCollector([meter]);
        var counter = meter.CreateCounter<long>("test.requests", description: "Requests.");
        var histogram = meter.CreateHistogram<double>("test.latency.seconds", description: "Latency.");
        meter.CreateObservableGauge("test.level", () => 7, description: "Level.");
        var kind = new KeyValuePair<string, object?>("kind", "a\"b");
        counter.Add(2, kind);
        counter.Add(3, kind);
        counter.Add(1);
        histogram.Record(0.003);
        histogram.Record(0.2);
        histogram.Record(100);

        var text = collector.Scrape();
        Assert.Contains("# HELP test_requests_total Requests.\n# TYPE test_requests_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("test_requests_total{kind=\"a\\\"b\"} 5\n", text, StringComparison.Ordinal);
        Assert.Contains("test_requests_total 1\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE test_level gauge\ntest_level 7\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE test_latency_seconds histogram\n", text, StringComparison.Ordinal);
        Assert.Contains("test_latency_seconds_bucket{le=\"0.0025\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("test_latency_seconds_bucket{le=\"0.005\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("test_latency_seconds_bucket{le=\"0.25\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("test_latency_seconds_bucket{le=\"10\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("test_latency_seconds_bucket{le=\"+Inf\"} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("test_latency_seconds_count 3\n", text, StringComparison.Ordinal);
        Assert.Contains("test_latency_seconds_sum 100.203\n", text, StringComparison.Ordinal);
        Assert.Equal(6, collector.GetCounterTotal("test.requests"));
    }

    [Fact]
    public async Task Stanza_counting_allocates_nothing_on_the_hot_path()
    {
        await using var server = await Infrastructure.TestServer.StartAsync();
        using var collector = new MetricsCollector([server.Server.Metrics.Meter]);
        var metrics = server.Server.Metrics;
        for (var i = 0; i < 100; i++) { metrics.StanzaIn("message"); metrics.StanzaOut("iq"); metrics.StanzaOut("presence"); } // create the series
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            metrics.StanzaIn("message");
            metrics.StanzaOut("presence");
            metrics.StanzaOut("iq");
            metrics.StanzaOut("challenge"); // not a stanza: ignored
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_100, collector.GetCounterTotal("tendril.stanzas.in"));
    }
}

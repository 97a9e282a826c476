using System.Net;
using System.Text.Json;
using Tendril.Protocol;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Operations;

/// <summary>/metrics and /health of the real process, after real logins and messages.</summary>
public sealed class MetricsAndHealthTests
{
    [Fact]
    public async Task Metrics_are_scraped_and_parsed_with_the_expected_counts()
    {
        await using var server = await TendrilProcess.StartAsync([("juliet@localhost", "pw-juliet"), ("romeo@localhost", "pw-romeo")]);
        using var http = new HttpClient { BaseAddress = server.HttpBase };
        var before = Prometheus.Parse(await http.GetStringAsync("metrics"));

        await using var juliet = await server.ConnectAsync("juliet@localhost", "pw-juliet", "balcony");
        await using var romeo = await server.ConnectAsync("romeo@localhost", "pw-romeo", "garden");
        await Assert.ThrowsAsync<Tendril.Client.XmppAuthenticationException>(() => server.ConnectAsync("romeo@localhost", "wrong"));
        for (var i = 0; i < 5; i++) await juliet.SendMessageAsync(romeo.Jid, "hello " + i);
        for (var i = 0; i < 5; i++)
        {
            var m = await romeo.WaitForAsync(e => e.Name == "message", TimeSpan.FromSeconds(10));
            Assert.Equal("hello " + i, m.Element("body")!.Text);
        }

        // The refused connection closes asynchronously after its SASL failure: scrape until it is gone (bounded).
        HttpResponseMessage response;
        string text;
        Prometheus metrics;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            response = await http.GetAsync("metrics");
            text = await response.Content.ReadAsStringAsync();
            metrics = Prometheus.Parse(text);
            if (metrics.Sum("tendril_connections", ("listener", "c2s"), ("transport", "tcp")) <= 2 || DateTime.UtcNow > deadline) break;
            await Task.Delay(50);
        }
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain; version=0.0.4", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);

        Assert.Equal("counter", metrics.Types["tendril_stanzas_in_total"]);
        Assert.Equal("gauge", metrics.Types["tendril_sessions"]);
        Assert.Equal("histogram", metrics.Types["tendril_storage_operation_duration_seconds"]);
        Assert.Equal(5, metrics.Sum("tendril_stanzas_in_total", ("kind", "message")) - before.Sum("tendril_stanzas_in_total", ("kind", "message")));
        Assert.Equal(5, metrics.Sum("tendril_stanzas_out_total", ("kind", "message")) - before.Sum("tendril_stanzas_out_total", ("kind", "message")));
        Assert.True(metrics.Sum("tendril_stanzas_out_total", ("kind", "iq")) >= 2, text); // the bind results at least
        Assert.Equal(2, metrics.Sum("tendril_auth_successes_total"));
        Assert.Equal(1, metrics.Sum("tendril_auth_failures_total", ("condition", "not-authorized")));
        Assert.Equal(2, metrics.Sum("tendril_sessions"));
        Assert.Equal(2, metrics.Sum("tendril_connections", ("listener", "c2s"), ("transport", "tcp")));
        Assert.True(metrics.Sum("tendril_connections_accepted_total") >= 3);
        Assert.True(metrics.Has("tendril_outbound_queue_depth"));
        Assert.True(metrics.Has("tendril_outbound_queue_depth_max"));
        Assert.True(metrics.Sum("tendril_gc_heap_bytes") > 0);
        Assert.True(metrics.Sum("tendril_process_working_set_bytes") > 0);
        Assert.Contains(metrics.Samples, s => s.Name == "tendril_gc_collections_total" && s.Labels["generation"] == "gen0");

        // Storage histogram: cumulative buckets ending in +Inf == _count, with logins' account lookups in it.
        var find = metrics.Samples.Where(s => s.Name == "tendril_storage_operation_duration_seconds_bucket" && s.Labels["operation"] == "find account").ToList();
        Assert.NotEmpty(find);
        Assert.Equal("+Inf", find[^1].Labels["le"]);
        for (var i = 1; i < find.Count; i++) Assert.True(find[i].Value >= find[i - 1].Value);
        var count = metrics.Sum("tendril_storage_operation_duration_seconds_count", ("operation", "find account"));
        Assert.Equal(count, find[^1].Value);
        Assert.True(count >= 3);
        Assert.True(metrics.Sum("tendril_storage_operation_duration_seconds_sum", ("operation", "find account")) > 0);
    }

    [Fact]
    public async Task Health_reports_status_uptime_sessions_and_storage()
    {
        var sinceStart = System.Diagnostics.Stopwatch.StartNew();
        await using var server = await TendrilProcess.StartAsync([("juliet@localhost", "pw-juliet")]);
        await using var juliet = await server.ConnectAsync("juliet@localhost", "pw-juliet");
        using var http = new HttpClient { BaseAddress = server.HttpBase };
        var response = await http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        Assert.Equal("ok", root.GetProperty("status").GetString());
        Assert.InRange(root.GetProperty("uptimeSeconds").GetDouble(), 0, sinceStart.Elapsed.TotalSeconds + 1);
        Assert.Equal(1, root.GetProperty("sessions").GetInt32());
        Assert.True(root.GetProperty("storage").GetProperty("reachable").GetBoolean());
    }
}

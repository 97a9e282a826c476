using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Tendril.Load;

/// <summary>The results: an aligned plain-text table and a JSON document (command line, date, machine, server, numbers).</summary>
public sealed class LoadReport(LoadOptions options, LoadRunner runner, string[] commandLine)
{
    private static readonly double[] Percentiles = [50, 90, 99, 99.9];

    public ProcTracker? Server { get; set; }
    public ProcTracker? Self { get; set; }
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;
    public double ConnectSeconds { get; set; }
    public double ScenarioSeconds { get; set; }
    public double TeardownSeconds { get; set; }
    public long SentInWindow { get; set; }
    public long DeliveredInWindow { get; set; }
    public long DisconnectsBeforeTeardown { get; set; }
    public long SelfRssBeforeKiB { get; set; }
    public long SelfRssConnectedKiB { get; set; }
    public long ServerRssConnectedKiB { get; set; }
    public IReadOnlyList<ProgressSample> Timeline { get; set; } = [];

    private double LoginsPerSecond => ConnectSeconds > 0 ? runner.LoginsOk / ConnectSeconds : 0;
    private double SentPerSecond => ScenarioSeconds > 0 ? SentInWindow / ScenarioSeconds : 0;
    private double DeliveredPerSecond => ScenarioSeconds > 0 ? DeliveredInWindow / ScenarioSeconds : 0;
    private long Lost => Math.Max(0, runner.ExpectedDeliveries - runner.Delivered);

    private double SelfKiBPerConnection =>
        runner.LoginsOk > 0 ? (double)(SelfRssConnectedKiB - SelfRssBeforeKiB) / runner.LoginsOk : 0;

    private static string Ms(long micros) => (micros / 1000.0).ToString(micros < 10_000 ? "0.00" : "0.0", CultureInfo.InvariantCulture);

    private static string MiB(long kib) => (kib / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

    private static string F(double v, string format = "0.0") => v.ToString(format, CultureInfo.InvariantCulture);

    private string ScenarioDescription => options.Scenario switch
    {
        Scenario.Chat => $"chat, {options.EffectivePairs} pairs, " + (options.EffectiveRate > 0 ? $"{F(options.EffectiveRate, "0.##")} msg/s per pair" : $"max rate, window {options.Window} per sender"),
        Scenario.Presence => "presence, " + (options.EffectiveRate > 0 ? $"{F(options.EffectiveRate, "0.##")} updates/s per user" : $"max rate, window {options.Window} per user"),
        Scenario.Pubsub => $"pubsub {options.EffectivePubsubService} node {options.PubsubNode}, 1 publisher, {runner.Subscribers} subscribers, "
            + (options.EffectiveRate > 0 ? $"{F(options.EffectiveRate, "0.##")} items/s" : $"max rate, window {options.Window}"),
        _ => "idle (hold connections)",
    };

    private static string CpuLine(ProcTracker t, string phase)
    {
        if (!t.Phases.TryGetValue(phase, out var p) || !p.Begin.Valid || !p.End.Valid) return "-";
        return F(p.End.CpuSeconds - p.Begin.CpuSeconds, "0.00") + " s";
    }

    private static double CpuSeconds(ProcTracker? t, string phase) =>
        t is not null && t.Phases.TryGetValue(phase, out var p) && p.Begin.Valid && p.End.Valid ? p.End.CpuSeconds - p.Begin.CpuSeconds : 0;

    public string ToTable()
    {
        var rows = new List<(string, string)>
        {
            ("scenario", ScenarioDescription),
            ("server", $"{options.Server ?? options.Domain}:{options.Port ?? (options.DirectTls ? 5223 : 5222)} ({(options.DirectTls ? "direct TLS" : "STARTTLS")}), domain {options.Domain}"),
            ("logins ok / failed", $"{runner.LoginsOk} / {runner.LoginsFailed}"),
            ("login rate", $"{F(LoginsPerSecond)} /s over {F(ConnectSeconds, "0.00")} s (target {F(options.ConnectRate, "0.#")} /s)"),
            ("login latency p50 / p99 / max", $"{Ms(runner.LoginLatency.Percentile(50))} / {Ms(runner.LoginLatency.Percentile(99))} / {Ms(runner.LoginLatency.Max)} ms"),
            ("scenario duration", $"{F(ScenarioSeconds, "0.00")} s"),
        };
        if (options.Scenario != Scenario.Idle)
        {
            rows.Add(("sent", $"{SentInWindow} ({F(SentPerSecond)} /s)"));
            rows.Add(("delivered", $"{DeliveredInWindow} ({F(DeliveredPerSecond)} /s); after drain {runner.Delivered}, missing {Lost}"));
            var h = runner.EndToEnd;
            rows.Add(("e2e latency p50 / p90 / p99 / p99.9 / max",
                $"{Ms(h.Percentile(50))} / {Ms(h.Percentile(90))} / {Ms(h.Percentile(99))} / {Ms(h.Percentile(99.9))} / {Ms(h.Max)} ms"));
        }
        rows.Add(("connections lost during run", DisconnectsBeforeTeardown.ToString(CultureInfo.InvariantCulture)));
        rows.Add(("errors", runner.ErrorCount == 0 ? "0" : $"{runner.ErrorCount}: " + string.Join(", ", runner.Errors.OrderByDescending(e => e.Value).Take(8).Select(e => $"{e.Key} ×{e.Value}"))));
        if (Server is { } s)
        {
            rows.Add(("server RSS start / connected / peak / end", $"{MiB(s.Start.RssKiB)} / {MiB(ServerRssConnectedKiB)} / {MiB(s.PeakRssKiB)} / {MiB(s.Last.RssKiB)}"));
            if (runner.LoginsOk > 0)
                rows.Add(("server RSS per connection, connected / end", $"{F((ServerRssConnectedKiB - s.Start.RssKiB) / (double)runner.LoginsOk, "0.0")} / {F((s.Last.RssKiB - s.Start.RssKiB) / (double)runner.LoginsOk, "0.0")} KiB"));
            rows.Add(("server CPU connect / scenario", $"{CpuLine(s, "connect")} ({F(Percent(CpuSeconds(s, "connect"), ConnectSeconds), "0")}%) / {CpuLine(s, "scenario")} ({F(Percent(CpuSeconds(s, "scenario"), ScenarioSeconds), "0")}%)"));
        }
        if (Self is { } me)
        {
            rows.Add(("tool RSS connected / per connection", $"{MiB(SelfRssConnectedKiB)} / {F(SelfKiBPerConnection, "0.0")} KiB"));
            rows.Add(("tool CPU connect / scenario", $"{CpuLine(me, "connect")} ({F(Percent(CpuSeconds(me, "connect"), ConnectSeconds), "0")}%) / {CpuLine(me, "scenario")} ({F(Percent(CpuSeconds(me, "scenario"), ScenarioSeconds), "0")}%)"));
        }
        var width = rows.Max(r => r.Item1.Length);
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"tendril-load results ({StartedAt:yyyy-MM-dd HH:mm:ss} UTC, {Environment.ProcessorCount} CPUs)");
        sb.AppendLine(new string('-', width + 2 + 60));
        foreach (var (k, v) in rows) sb.Append(k.PadRight(width + 2)).AppendLine(v);
        return sb.ToString();
    }

    private static double Percent(double cpu, double wall) => wall > 0 ? 100 * cpu / wall : 0;

    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("tool", "tendril-load");
            w.WriteString("commandLine", string.Join(' ', commandLine.Select(Quote)));
            w.WriteString("date", StartedAt.ToString("O", CultureInfo.InvariantCulture));

            w.WriteStartObject("machine");
            w.WriteNumber("nproc", Environment.ProcessorCount);
            w.WriteNumber("memTotalKiB", ProcSample.MemTotalKiB());
            w.WriteString("cpu", ProcSample.CpuModel());
            w.WriteString("os", RuntimeInformation.OSDescription);
            w.WriteString("runtime", RuntimeInformation.FrameworkDescription);
            w.WriteString("gc", GCSettings.IsServerGC ? "server" : "workstation");
            w.WriteEndObject();

            w.WriteStartObject("server");
            w.WriteString("host", options.Server ?? options.Domain);
            w.WriteNumber("port", options.Port ?? (options.DirectTls ? 5223 : 5222));
            w.WriteString("domain", options.Domain);
            w.WriteBoolean("directTls", options.DirectTls);
            if (options.Pid is { } pid)
            {
                w.WriteNumber("pid", pid);
                w.WriteString("command", ProcSample.Command(pid.ToString(CultureInfo.InvariantCulture)));
            }
            w.WriteEndObject();

            w.WriteStartObject("parameters");
            w.WriteString("scenario", options.Scenario.ToString().ToLowerInvariant());
            w.WriteNumber("users", options.Users);
            w.WriteNumber("accounts", options.EffectiveAccounts);
            w.WriteNumber("connectRate", options.ConnectRate);
            w.WriteNumber("maxPendingLogins", options.MaxPendingLogins);
            w.WriteNumber("durationSeconds", options.Duration);
            w.WriteString("mechanism", options.Mechanism ?? "auto");
            if (options.Scenario == Scenario.Chat) w.WriteNumber("pairs", options.EffectivePairs);
            if (options.Scenario != Scenario.Idle)
            {
                w.WriteNumber("rate", options.EffectiveRate);
                w.WriteNumber("window", options.Window);
                w.WriteNumber("bodySize", options.BodySize);
            }
            if (options.Scenario == Scenario.Pubsub)
            {
                w.WriteString("pubsubService", options.EffectivePubsubService);
                w.WriteString("pubsubNode", options.PubsubNode);
                w.WriteNumber("subscribers", runner.Subscribers);
            }
            w.WriteEndObject();

            w.WriteStartObject("results");
            w.WriteNumber("loginsOk", runner.LoginsOk);
            w.WriteNumber("loginsFailed", runner.LoginsFailed);
            w.WriteNumber("connectSeconds", Math.Round(ConnectSeconds, 3));
            w.WriteNumber("loginsPerSecond", Math.Round(LoginsPerSecond, 1));
            WriteHistogram(w, "loginLatencyMs", runner.LoginLatency);
            w.WriteNumber("scenarioSeconds", Math.Round(ScenarioSeconds, 3));
            w.WriteNumber("sent", SentInWindow);
            w.WriteNumber("sentPerSecond", Math.Round(SentPerSecond, 1));
            w.WriteNumber("delivered", DeliveredInWindow);
            w.WriteNumber("deliveredPerSecond", Math.Round(DeliveredPerSecond, 1));
            w.WriteNumber("deliveredAfterDrain", runner.Delivered);
            w.WriteNumber("missingAfterDrain", Lost);
            WriteHistogram(w, "endToEndLatencyMs", runner.EndToEnd);
            w.WriteNumber("connectionsLost", DisconnectsBeforeTeardown);
            w.WriteNumber("teardownSeconds", Math.Round(TeardownSeconds, 3));
            w.WriteStartObject("errors");
            foreach (var e in runner.Errors.OrderByDescending(e => e.Value)) w.WriteNumber(e.Key, e.Value);
            w.WriteEndObject();
            w.WriteEndObject();

            if (Server is { } s) WriteProcess(w, "serverProcess", s, ServerRssConnectedKiB);
            if (Self is { } me)
            {
                WriteProcess(w, "toolProcess", me, SelfRssConnectedKiB);
                w.WriteNumber("toolRssBeforeConnectKiB", SelfRssBeforeKiB);
                w.WriteNumber("toolKiBPerConnection", Math.Round(SelfKiBPerConnection, 2));
            }

            w.WriteStartArray("timeline");
            foreach (var t in Timeline)
            {
                w.WriteStartObject();
                w.WriteNumber("t", t.Seconds);
                w.WriteString("phase", t.Phase);
                w.WriteNumber("connected", t.Connected);
                w.WriteNumber("loginsPerSecond", Math.Round(t.LoginsPerSecond, 1));
                w.WriteNumber("sentPerSecond", Math.Round(t.SentPerSecond, 1));
                w.WriteNumber("deliveredPerSecond", Math.Round(t.DeliveredPerSecond, 1));
                w.WriteNumber("errors", t.Errors);
                if (Server is not null)
                {
                    w.WriteNumber("serverRssKiB", t.ServerRssKiB);
                    w.WriteNumber("serverCpuPercent", Math.Round(t.ServerCpuPercent, 1));
                }
                w.WriteNumber("toolRssKiB", t.ToolRssKiB);
                w.WriteNumber("toolCpuPercent", Math.Round(t.ToolCpuPercent, 1));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteHistogram(Utf8JsonWriter w, string name, LatencyHistogram h)
    {
        w.WriteStartObject(name);
        w.WriteNumber("count", h.Count);
        foreach (var p in Percentiles) w.WriteNumber("p" + p.ToString("0.#", CultureInfo.InvariantCulture), h.Percentile(p) / 1000.0);
        w.WriteNumber("max", h.Max / 1000.0);
        w.WriteNumber("mean", Math.Round(h.Mean / 1000.0, 3));
        w.WriteEndObject();
    }

    private static void WriteProcess(Utf8JsonWriter w, string name, ProcTracker t, long connectedRss)
    {
        w.WriteStartObject(name);
        w.WriteString("pid", t.Pid);
        w.WriteNumber("rssStartKiB", t.Start.RssKiB);
        w.WriteNumber("rssConnectedKiB", connectedRss);
        w.WriteNumber("rssPeakKiB", t.PeakRssKiB);
        w.WriteNumber("rssEndKiB", t.Last.RssKiB);
        w.WriteNumber("cpuSecondsConnect", Math.Round(CpuSeconds(t, "connect"), 2));
        w.WriteNumber("cpuSecondsScenario", Math.Round(CpuSeconds(t, "scenario"), 2));
        w.WriteEndObject();
    }

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ':' or '=' or '@' or ',') ? arg : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

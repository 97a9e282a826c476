using System.Diagnostics;
using System.Globalization;

namespace Tendril.Load;

/// <summary>One sample of the per-second progress (also kept as the run's timeline in the JSON).</summary>
public sealed record ProgressSample(double Seconds, string Phase, long Connected, double LoginsPerSecond, double SentPerSecond,
    double DeliveredPerSecond, long Errors, long ServerRssKiB, double ServerCpuPercent, long ToolRssKiB, double ToolCpuPercent);

/// <summary>Prints a progress line every second and records it.</summary>
public sealed class ProgressPrinter(LoadRunner runner, ProcTracker? server, ProcTracker self, TextWriter? output) : IDisposable
{
    private readonly List<ProgressSample> _samples = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public void Start() => _loop = LoopAsync();

    public IReadOnlyList<ProgressSample> Stop()
    {
        _stop.Cancel();
        try { _loop?.Wait(); } catch (AggregateException) { }
        return _samples;
    }

    private async Task LoopAsync()
    {
        var clock = Stopwatch.StartNew();
        var last = clock.Elapsed;
        long lastLogins = 0, lastSent = 0, lastDelivered = 0;
        var lastServer = server?.Sample() ?? default;
        var lastSelf = self.Sample();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                var now = clock.Elapsed;
                var dt = (now - last).TotalSeconds;
                last = now;
                long logins = runner.LoginsOk, sent = runner.Sent, delivered = runner.Delivered;
                var srv = server?.Sample() ?? default;
                var me = self.Sample();
                var sample = new ProgressSample(
                    Math.Round(now.TotalSeconds, 1), runner.Phase, runner.Connected,
                    (logins - lastLogins) / dt, (sent - lastSent) / dt, (delivered - lastDelivered) / dt, runner.ErrorCount,
                    srv.RssKiB, srv.Valid && lastServer.Valid ? 100 * (srv.CpuSeconds - lastServer.CpuSeconds) / dt : 0,
                    me.RssKiB, me.Valid && lastSelf.Valid ? 100 * (me.CpuSeconds - lastSelf.CpuSeconds) / dt : 0);
                (lastLogins, lastSent, lastDelivered, lastServer, lastSelf) = (logins, sent, delivered, srv, me);
                _samples.Add(sample);
                output?.WriteLine(Format(sample, server is not null));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string Format(ProgressSample s, bool withServer)
    {
        var line = string.Create(CultureInfo.InvariantCulture,
            $"[{s.Seconds,6:0.0}s] {s.Phase,-9} conn {s.Connected,7}  logins/s {s.LoginsPerSecond,7:0}  sent/s {s.SentPerSecond,8:0}  recv/s {s.DeliveredPerSecond,8:0}  err {s.Errors,5}");
        if (withServer) line += string.Create(CultureInfo.InvariantCulture, $"  server {s.ServerRssKiB / 1024.0,7:0.0} MiB {s.ServerCpuPercent,5:0}% cpu");
        return line + string.Create(CultureInfo.InvariantCulture, $"  tool {s.ToolRssKiB / 1024.0,6:0.0} MiB {s.ToolCpuPercent,4:0}% cpu");
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}

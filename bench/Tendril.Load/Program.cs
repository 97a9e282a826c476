using System.Diagnostics;
using System.Runtime;
using Tendril.Load;

var options = LoadOptions.Parse(args, Console.Error);
if (options is null) return 2;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    Console.Error.WriteLine("tendril-load: interrupted; finishing the current phase and reporting.");
    cancel.Cancel();
};

var runner = new LoadRunner(options);
var report = new LoadReport(options, runner, Environment.GetCommandLineArgs());
var server = options.Pid is { } pid ? new ProcTracker(pid.ToString(System.Globalization.CultureInfo.InvariantCulture)) : null;
var self = new ProcTracker(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
report.Server = server;
report.Self = self;

Console.Error.WriteLine($"tendril-load: {options.Users} users of {options.Domain} via {options.Server ?? options.Domain}:{options.Port ?? (options.DirectTls ? 5223 : 5222)}"
    + $" ({(options.DirectTls ? "direct TLS" : "STARTTLS")}), scenario {options.Scenario.ToString().ToLowerInvariant()}, {options.Duration:0.#} s, GC {(GCSettings.IsServerGC ? "server" : "workstation")}");

using var progress = new ProgressPrinter(runner, server, self, options.Quiet ? null : Console.Error);
progress.Start();

GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
report.SelfRssBeforeKiB = ProcSample.Read("self").RssKiB;

var clock = Stopwatch.StartNew();
server?.BeginPhase("connect");
self.BeginPhase("connect");
await runner.ConnectAllAsync(cancel.Token);
report.ConnectSeconds = clock.Elapsed.TotalSeconds;
server?.EndPhase("connect");
self.EndPhase("connect");

GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
report.SelfRssConnectedKiB = ProcSample.Read("self").RssKiB;
report.ServerRssConnectedKiB = server?.Sample().RssKiB ?? 0;

if (runner.LoginsOk > 0 && !cancel.IsCancellationRequested)
{
    server?.BeginPhase("scenario");
    self.BeginPhase("scenario");
    clock.Restart();
    await runner.RunScenarioAsync(cancel.Token);
    report.ScenarioSeconds = clock.Elapsed.TotalSeconds;
    report.SentInWindow = runner.Sent;
    report.DeliveredInWindow = runner.Delivered;
    server?.EndPhase("scenario");
    self.EndPhase("scenario");
    await runner.DrainAsync(TimeSpan.FromSeconds(5));
}

report.Timeline = progress.Stop();
report.DisconnectsBeforeTeardown = runner.Disconnects;
clock.Restart();
await runner.DisconnectAllAsync();
report.TeardownSeconds = clock.Elapsed.TotalSeconds;

Console.Out.Write(report.ToTable());
if (options.JsonPath is { } path)
{
    await File.WriteAllBytesAsync(path, report.ToJson());
    Console.Error.WriteLine($"tendril-load: results written to {path}");
}
return runner.LoginsOk == 0 ? 1 : 0;

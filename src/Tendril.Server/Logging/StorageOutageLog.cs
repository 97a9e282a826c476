using Microsoft.Extensions.Logging;
using Tendril.Storage;

namespace Tendril.Server.Logging;

/// <summary>
/// Logs a storage outage as an operator wants to read it, not once per refused stanza: the first refusal logs the
/// outage's start (with its exception, the one stack trace), later refusals are counted and reported every
/// <see cref="ReportEvery"/> (on the next refusal after that), and the first storage success after it logs the end with
/// the totals. Issue 18: a 20 s PostgreSQL restart at 10 messages a second wrote 200 stack traces (692 KB).
/// </summary>
/// <remarks>
/// The server keeps one (<see cref="XmppServer.StorageOutage"/>) for the stanza paths that refuse work when storage
/// fails — a filter that cannot read a blocklist or archive preferences, an offline message that cannot be stored.
/// <see cref="Succeeded"/> is cheap when there is no outage (one volatile read): call it after a storage operation of
/// those paths went through. Paced by real time (<see cref="TimeProvider.System"/> unless given), whatever clock the
/// server runs on.
/// </remarks>
public sealed partial class StorageOutageLog
{
    /// <summary>How often a lasting outage is reported.</summary>
    public static readonly TimeSpan DefaultReportEvery = TimeSpan.FromSeconds(10);

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private volatile bool _down;
    private DateTimeOffset _started;
    private DateTimeOffset _lastReport;
    private long _refused;
    private long _refusedSinceReport;

    public StorageOutageLog(ILogger logger, TimeProvider? time = null, TimeSpan? reportEvery = null)
    {
        _logger = logger;
        _time = time ?? TimeProvider.System;
        ReportEvery = reportEvery ?? DefaultReportEvery;
    }

    public TimeSpan ReportEvery { get; }

    /// <summary>Whether an outage is on (a refusal seen, no success since).</summary>
    public bool IsDown => _down;

    /// <summary>Refusals during the current (or last) outage.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// A storage failure made the server refuse <paramref name="what"/> (e.g. "a message to juliet@example.org could
    /// not be stored offline"): logged in full if it starts an outage, otherwise counted.
    /// </summary>
    public void Refusal(string what, Exception e)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (!_down)
            {
                _down = true;
                _started = now;
                _lastReport = now;
                Interlocked.Exchange(ref _refused, 1);
                _refusedSinceReport = 0;
                LogStarted(e, what);
                return;
            }
            Interlocked.Increment(ref _refused);
            _refusedSinceReport++;
            if (now - _lastReport < ReportEvery) return;
            LogLasting((now - _started).TotalSeconds, _refusedSinceReport, Interlocked.Read(ref _refused), what, Describe(e));
            _lastReport = now;
            _refusedSinceReport = 0;
        }
    }

    /// <summary>A storage operation of a refusing path went through: ends the outage, if one is on.</summary>
    public void Succeeded()
    {
        if (!_down) return;
        lock (_gate)
        {
            if (!_down) return;
            _down = false;
            LogEnded((_time.GetUtcNow() - _started).TotalSeconds, Interlocked.Read(ref _refused));
        }
    }

    private static string Describe(Exception e) => e is StorageException { InnerException: { } inner } ? $"{e.Message} ({inner.GetType().Name})" : e.Message;

    [LoggerMessage(320, LogLevel.Warning, "Storage unavailable: {What}; the senders get internal-server-error (wait). Further refusals are counted until storage answers again")]
    private partial void LogStarted(Exception exception, string what);

    [LoggerMessage(321, LogLevel.Warning, "Storage still unavailable after {Seconds:0} s: {Recent} stanzas refused since the last report, {Total} in all (latest: {What}: {Error})")]
    private partial void LogLasting(double seconds, long recent, long total, string what, string error);

    [LoggerMessage(322, LogLevel.Information, "Storage available again after {Seconds:0.0} s; {Total} stanzas were refused during the outage")]
    private partial void LogEnded(double seconds, long total);
}

using System.Collections.Concurrent;
using Tendril.Server.Streams;

namespace Tendril.Server.Timers;

/// <summary>
/// The one timer behind every connection timeout (Kestrel's Heartbeat habit): once a second it walks the open
/// connections and lets each check its deadlines, then sweeps the server's pending iq requests. Driven by a
/// <see cref="TimeProvider"/>, so tests move time by hand and call <see cref="Tick"/>.
/// </summary>
public sealed class Heartbeat : IAsyncDisposable
{
    private readonly ConcurrentDictionary<long, C2sStream> _streams = new();
    private readonly TimeProvider _time;
    private readonly Action<DateTimeOffset> _afterTick;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    private readonly Microsoft.Extensions.Logging.ILogger? _logger;

    public Heartbeat(TimeProvider time, Action<DateTimeOffset> afterTick, Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        _time = time;
        _afterTick = afterTick;
        _logger = logger;
    }

    public static TimeSpan Interval { get; } = TimeSpan.FromSeconds(1);

    public int Count => _streams.Count;

    public IEnumerable<C2sStream> Streams => _streams.Values;

    internal void Register(C2sStream stream) => _streams[stream.Id] = stream;

    internal void Unregister(C2sStream stream) => _streams.TryRemove(stream.Id, out _);

    public void Start() => _loop = RunAsync();

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                Tick();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Runs one round of timeout checks at the provider's current time.</summary>
    public void Tick()
    {
        var now = _time.GetUtcNow();
        foreach (var pair in _streams)
        {
            // A stream that fails its check (out of descriptors or memory, a bug) must not stop the timeouts of the others.
            try
            {
                pair.Value.OnHeartbeat(now);
            }
            catch (Exception ex)
            {
                Failed(ex);
            }
        }
        try
        {
            _afterTick(now);
        }
        catch (Exception ex)
        {
            Failed(ex);
        }
    }

    private long _lastFailureLog = long.MinValue;

    private void Failed(Exception ex)
    {
        var now = Environment.TickCount64;
        if (now - _lastFailureLog < 10_000) return; // at most one line per 10 s
        _lastFailureLog = now;
        if (_logger is not null) Microsoft.Extensions.Logging.LoggerExtensions.LogWarning(_logger, ex, "Heartbeat check failed; continuing");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}

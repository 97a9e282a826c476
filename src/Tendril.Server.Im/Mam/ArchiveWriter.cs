using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tendril.Storage;

namespace Tendril.Server.Features.Mam;

/// <summary>
/// Keeps archive writes off the stanza path: the MAM filters <see cref="EnqueueAsync"/> a record (its id and stamp
/// already assigned) and go on; one background loop drains the bounded queue in batches (everything queued, up to
/// <see cref="MaxBatch"/>) and writes each with one <see cref="IArchiveStore.AppendBatchAsync"/> (one transaction).
/// <list type="bullet">
/// <item>Back-pressure: when the queue is full, <see cref="EnqueueAsync"/> waits for space — never drops, never grows.</item>
/// <item>Read-your-writes by sequence numbers: every queued record takes the next number (in queue order);
/// <see cref="WaitWrittenAsync"/> takes the last number given out and waits, bounded, until the loop has finished
/// that many records — so a query sees every message archived before it.</item>
/// <item>Failure: a failed batch is tried up to <c>Mam:WriteAttempts</c> times with backoff, then dropped with an
/// error log and the <c>tendril.mam.dropped</c> counter (the messages were delivered already; the archive is a
/// record). One warning per outage, one information line on recovery.</item>
/// <item>Stop: <see cref="StopAsync"/> completes the queue, cuts short any backoff, and waits (bounded) until what
/// is queued is written.</item>
/// </list>
/// The clock given here paces the backoff and bounds the waits; it must be a clock that runs (the server passes
/// <see cref="TimeProvider.System"/>): with a test's hand-moved clock a backoff never ended, and a server disposed
/// after one failed batch waited for its writer forever (the test host that did not exit).
/// </summary>
internal sealed partial class ArchiveWriter
{
    /// <summary>
    /// Rows per transaction at most. In SQLite each commit writes every index leaf it touched to the WAL; a batch's rows
    /// belong to many accounts, so bigger batches write fewer pages per row (256 → 1024: 1.9x the rows per second on
    /// this machine), while one batch still holds the single writer for only ~30 ms.
    /// </summary>
    public const int MaxBatch = 1024;

    private readonly IArchiveStore _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _attempts;
    private readonly TimeSpan _firstBackoff;
    private readonly Channel<ArchiveAppend> _queue;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _written;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly Task _loop;

    /// <summary>Sequence number of the last record queued (guarded by <see cref="_gate"/>; read with Interlocked).</summary>
    private long _enqueued;

    /// <summary>How many records the loop has finished (written, skipped or dropped); queue order = sequence order.</summary>
    private long _done;

    /// <summary>Completed (and replaced) each time <see cref="_done"/> moves or the loop ends.</summary>
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private bool _outage;

    public ArchiveWriter(IArchiveStore store, int capacity, int attempts, ILogger logger, TimeProvider time, Meter meter,
        TimeSpan? firstBackoff = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        _store = store;
        _logger = logger;
        _time = time;
        _attempts = attempts;
        _firstBackoff = firstBackoff ?? TimeSpan.FromMilliseconds(100);
        _queue = Channel.CreateBounded<ArchiveAppend>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _dropped = meter.CreateCounter<long>("tendril.mam.dropped", description: "Archive records dropped after every write attempt failed.");
        _written = meter.CreateCounter<long>("tendril.mam.written", description: "Archive records written in batches.");
        _loop = Task.Run(DrainLoopAsync);
    }

    /// <summary>The last sequence number given to a queued record.</summary>
    public long Enqueued => Interlocked.Read(ref _enqueued);

    /// <summary>How many records the loop has finished.</summary>
    public long Done => Interlocked.Read(ref _done);

    /// <summary>
    /// Queues <paramref name="record"/>; synchronous unless the queue is full (then waits for space).
    /// Throws <see cref="ChannelClosedException"/> after <see cref="StopAsync"/>.
    /// </summary>
    public ValueTask EnqueueAsync(ArchiveAppend record)
    {
        // The number and the queue slot are taken together, so queue order is sequence order.
        lock (_gate)
        {
            if (_queue.Writer.TryWrite(record))
            {
                _enqueued++;
                return ValueTask.CompletedTask;
            }
        }
        return EnqueueSlowAsync(record);
    }

    private async ValueTask EnqueueSlowAsync(ArchiveAppend record)
    {
        while (true)
        {
            if (!await _queue.Writer.WaitToWriteAsync().ConfigureAwait(false)) throw new ChannelClosedException();
            lock (_gate)
            {
                if (_queue.Writer.TryWrite(record))
                {
                    _enqueued++;
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Waits until every record queued before this call is finished (written, or dropped after its attempts);
    /// false when <paramref name="timeout"/> passed first.
    /// </summary>
    public async ValueTask<bool> WaitWrittenAsync(TimeSpan timeout)
    {
        var target = Enqueued;
        var started = _time.GetTimestamp();
        while (true)
        {
            var progress = Volatile.Read(ref _progress); // read before _done: a move after this completes it
            if (Done >= target) return true;
            if (_loop.IsCompleted) return Done >= target;
            var left = timeout - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero) return false;
            try
            {
                await progress.Task.WaitAsync(left, _time).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return Done >= target;
            }
        }
    }

    /// <summary>
    /// No more records; cuts short any backoff and waits until everything queued is finished, or
    /// <paramref name="timeout"/> passed (then false, and what is left is dropped as storage closes).
    /// </summary>
    public async Task<bool> StopAsync(TimeSpan timeout)
    {
        lock (_gate) _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(timeout, _time).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            LogStopTimedOut(Enqueued - Done, timeout.TotalSeconds);
            return false;
        }
    }

    private async Task DrainLoopAsync()
    {
        var batch = new List<ArchiveAppend>(MaxBatch);
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (batch.Count < MaxBatch && reader.TryRead(out var record)) batch.Add(record);
                if (batch.Count == 0) continue;
                await WriteAsync(batch).ConfigureAwait(false);
                Interlocked.Add(ref _done, batch.Count);
                batch.Clear();
                Interlocked.Exchange(ref _progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
        }
        finally
        {
            Volatile.Read(ref _progress).TrySetResult(); // waiters see the loop ended
        }
    }

    private async Task WriteAsync(List<ArchiveAppend> batch)
    {
        var delay = _firstBackoff;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var written = await _store.AppendBatchAsync(batch).ConfigureAwait(false);
                _written.Add(written);
                if (_outage)
                {
                    _outage = false;
                    LogRecovered(batch.Count);
                }
                return;
            }
            catch (Exception e) // the loop survives any failure: storage down, closed, or a bad row
            {
                if (!_outage)
                {
                    _outage = true;
                    LogOutage(e, batch.Count, _attempts);
                }
                if (e is ObjectDisposedException || attempt >= _attempts)
                {
                    _dropped.Add(batch.Count);
                    LogDropped(e, batch.Count, attempt);
                    return;
                }
            }
            try
            {
                // A stop cuts the backoff short: the remaining attempts run at once.
                if (!_stopping.IsCancellationRequested) await Task.Delay(delay, _time, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }

    [LoggerMessage(EventId = 3131, Level = LogLevel.Warning, Message = "Archive storage unavailable: writing {Count} queued messages failed; trying up to {Attempts} times")]
    private partial void LogOutage(Exception exception, int count, int attempts);

    [LoggerMessage(EventId = 3132, Level = LogLevel.Information, Message = "Archive storage available again: {Count} queued messages written")]
    private partial void LogRecovered(int count);

    [LoggerMessage(EventId = 3133, Level = LogLevel.Error, Message = "Archive storage still unavailable after {Attempts} attempts: {Count} messages dropped from the archive (they were delivered)")]
    private partial void LogDropped(Exception exception, int count, int attempts);

    [LoggerMessage(EventId = 3134, Level = LogLevel.Error, Message = "Archive writer stop timed out after {Seconds} s with {Count} messages not yet written")]
    private partial void LogStopTimedOut(long count, double seconds);
}

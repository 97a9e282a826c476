using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tendril.Storage;

namespace Tendril.Server.Features.Archive;

/// <summary>
/// Keeps archive writes off the stanza path (accounts' archives, XEP-0313, and rooms'): the MAM filters <see cref="EnqueueAsync"/> a record (its id and stamp
/// already assigned) and go on; one background loop drains the bounded queue in batches (everything queued, up to
/// <see cref="MaxBatch"/>) and writes each with one <see cref="IArchiveStore.AppendBatchAsync"/> (one transaction).
/// <list type="bullet">
/// <item>Back-pressure: when the queue is full, <see cref="EnqueueAsync"/> waits for space — never drops, never grows.
/// The stanza being archived waits with it, and so does the stream that sent it (it reads nothing more): the sender
/// is slowed, explicitly, instead of the server holding an unbounded backlog.</item>
/// <item>Read-your-writes by sequence numbers: every queued record takes the next number (in queue order);
/// <see cref="WaitWrittenAsync"/> takes the last number given out and waits, bounded, until the loop has finished
/// that many records — so a query sees every message archived before it.</item>
/// <item>Storage unavailable (down, restarting, failing over, disk full): the batch is retried with backoff (from
/// 100 ms, doubling, at most <see cref="MaxBackoff"/>) for as long as it takes — no attempt limit, no time limit — and
/// the records wait in the queue. The messages were delivered; the archive must get them (issue 18: 5 attempts lost
/// every message of a 20 s PostgreSQL restart). One warning when the outage starts, a count every
/// <see cref="ReportEvery"/> while it lasts, one information line when it ends.</item>
/// <item>Refused for good (<see cref="StorageException.IsPermanent"/>: a constraint, a value the database cannot
/// take): a batch is written again one record at a time so only the refused record is lost, and that one is logged as
/// an error and counted (<c>tendril.mam.dropped</c>, reason <c>refused</c>). Nothing else is ever dropped.</item>
/// <item>Stop: <see cref="StopAsync"/> completes the queue, cuts a backoff short, and goes on writing (retrying as
/// above) until everything queued is written or its bound passed; what is left then is not written, logged as an error
/// with its count and counted (reason <c>stop</c>) — it is not spilled to disk (docs/reliability.md says why).</item>
/// </list>
/// The clock given here paces the backoff and bounds the waits; it must be a clock that runs (the server passes
/// <see cref="TimeProvider.System"/>): with a test's hand-moved clock a backoff never ended, and a server disposed
/// after one failed batch waited for its writer forever (the test host that did not exit).
/// </summary>
public sealed partial class ArchiveWriter
{
    /// <summary>
    /// Rows per transaction at most. In SQLite each commit writes every index leaf it touched to the WAL; a batch's rows
    /// belong to many accounts, so bigger batches write fewer pages per row (256 → 1024: 1.9x the rows per second on
    /// this machine), while one batch still holds the single writer for only ~30 ms.
    /// </summary>
    public const int MaxBatch = 1024;

    /// <summary>The longest wait between two attempts: when storage is back, the archive catches up within this.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    /// <summary>How often a lasting outage is reported (with the queued count).</summary>
    public static readonly TimeSpan DefaultReportEvery = TimeSpan.FromSeconds(10);

    private static readonly KeyValuePair<string, object?> ReasonRefused = new("reason", "refused");
    private static readonly KeyValuePair<string, object?> ReasonStop = new("reason", "stop");

    /// <summary>A record made after the writer stopped (a message routed during the last moments of a stop).</summary>
    public static readonly KeyValuePair<string, object?> ReasonStopped = ReasonStop;

    /// <summary>The owner's archiving preferences could not be read (storage down): delivered, not archived.</summary>
    public static readonly KeyValuePair<string, object?> ReasonPreferences = new("reason", "preferences");

    private readonly IArchiveStore _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly TimeSpan _firstBackoff;
    private readonly TimeSpan _maxBackoff;
    private readonly TimeSpan _reportEvery;
    private readonly Channel<ArchiveAppend> _queue;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _written;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _abandoned = new();
    private readonly Lock _gate = new();
    private readonly Task _loop;

    /// <summary>Sequence number of the last record queued (guarded by <see cref="_gate"/>; read with Interlocked).</summary>
    private long _enqueued;

    /// <summary>How many records the loop has finished (written, skipped or dropped); queue order = sequence order.</summary>
    private long _done;

    /// <summary>Producers waiting for space in a full queue (back-pressure in effect).</summary>
    private int _waiting;

    /// <summary>Completed (and replaced) each time <see cref="_done"/> moves or the loop ends.</summary>
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Outage state, used by the loop only.
    private bool _outage;
    private long _outageStarted;
    private long _lastReport;
    private long _failedAttempts;

    /// <param name="metrics">The prefix of the writer's instruments: <c>tendril.mam</c> for accounts' archives, <c>tendril.muc.mam</c> for rooms'.</param>
    public ArchiveWriter(IArchiveStore store, int capacity, ILogger logger, TimeProvider time, Meter meter,
        TimeSpan? firstBackoff = null, TimeSpan? reportEvery = null, TimeSpan? maxBackoff = null, string metrics = "tendril.mam")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _store = store;
        _logger = logger;
        _time = time;
        _capacity = capacity;
        _firstBackoff = firstBackoff ?? TimeSpan.FromMilliseconds(100);
        _reportEvery = reportEvery ?? DefaultReportEvery;
        _maxBackoff = maxBackoff ?? MaxBackoff;
        _queue = Channel.CreateBounded<ArchiveAppend>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _dropped = meter.CreateCounter<long>(metrics + ".dropped",
            description: "Archive records not written: refused by storage for good (reason=refused), still queued when a stop's bound passed (reason=stop), or not queued because the owner's preferences could not be read (reason=preferences).");
        _written = meter.CreateCounter<long>(metrics + ".written", description: "Archive records written in batches.");
        meter.CreateObservableGauge(metrics + ".queued", () => Enqueued - Done, description: "Archive records queued or being written (waiting for storage during an outage).");
        meter.CreateObservableGauge(metrics + ".waiting", () => Volatile.Read(ref _waiting), description: "Senders waiting for room in the full archive queue (back-pressure).");
        _loop = Task.Run(DrainLoopAsync);
    }

    /// <summary>Counts a message the feature decided not to queue for a reason that is not the owner's choice.</summary>
    public void NotArchived(KeyValuePair<string, object?> reason) => _dropped.Add(1, reason);

    /// <summary>The last sequence number given to a queued record.</summary>
    public long Enqueued => Interlocked.Read(ref _enqueued);

    /// <summary>How many records the loop has finished.</summary>
    public long Done => Interlocked.Read(ref _done);

    /// <summary>Producers waiting for room (the queue is full).</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>
    /// Queues <paramref name="record"/>; synchronous unless the queue is full (then waits for space, however long the
    /// storage outage lasts: back-pressure). Throws <see cref="ChannelClosedException"/> after <see cref="StopAsync"/>.
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
        Interlocked.Increment(ref _waiting);
        try
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
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    /// <summary>
    /// Waits until every record queued before this call is finished (written, or dropped as refused);
    /// false when <paramref name="timeout"/> passed first (storage unavailable: the records are still queued).
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
    /// No more records; cuts short any backoff and waits until everything queued is written, or
    /// <paramref name="timeout"/> passed: then the writer gives up, and what is left is logged with its count and
    /// counted (false).
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
            // The loop may be inside a storage call (it ends when that call does); from here on it writes nothing more.
            await _abandoned.CancelAsync().ConfigureAwait(false);
            LogStopGaveUp(Enqueued - Done, timeout.TotalSeconds);
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
                if (!await WriteAsync(batch).ConfigureAwait(false))
                {
                    // A stop gave up: this batch and what is still queued are not written (StopAsync logged the count).
                    var left = batch.Count;
                    while (reader.TryRead(out _)) left++;
                    _dropped.Add(left, ReasonStop);
                    Finished(left);
                    return;
                }
                Finished(batch.Count);
                batch.Clear();
            }
        }
        finally
        {
            Volatile.Read(ref _progress).TrySetResult(); // waiters see the loop ended
        }
    }

    private void Finished(int count)
    {
        Interlocked.Add(ref _done, count);
        Interlocked.Exchange(ref _progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>
    /// Writes <paramref name="batch"/>: retried while storage is unavailable, record by record when it refuses the
    /// batch for good. False only when a stop gave up on it.
    /// </summary>
    private async Task<bool> WriteAsync(List<ArchiveAppend> batch)
    {
        var delay = _firstBackoff;
        var stopSeen = _stopping.IsCancellationRequested;
        while (true)
        {
            if (_abandoned.IsCancellationRequested) return false;
            try
            {
                var written = await _store.AppendBatchAsync(batch).ConfigureAwait(false);
                _written.Add(written);
                EndOutage();
                return true;
            }
            catch (StorageException e) when (e.IsPermanent)
            {
                EndOutage(); // storage answered: it is up
                return await WriteOneByOneAsync(batch, e).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return false; // storage closed under a stop that gave up (the host disposes it after StopAsync)
            }
            catch (Exception e) // unavailable (down, restarting, disk full) or anything unforeseen: retry, never drop
            {
                NoteFailure(e);
            }
            try
            {
                if (!stopSeen && _stopping.IsCancellationRequested)
                {
                    // A stop cuts the backoff short once (storage may be back: write now), then paces as before.
                    stopSeen = true;
                    delay = _firstBackoff;
                    continue;
                }
                await Task.Delay(delay, _time, stopSeen ? _abandoned.Token : _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                if (_abandoned.IsCancellationRequested) return false;
                stopSeen = true;
                delay = _firstBackoff;
                continue;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _maxBackoff.Ticks));
        }
    }

    /// <summary>The batch was refused for good: each record alone, so only what storage refuses is lost (and said so).</summary>
    private async Task<bool> WriteOneByOneAsync(List<ArchiveAppend> batch, StorageException batchError)
    {
        if (batch.Count == 1)
        {
            Refused(batch[0], batchError);
            return true;
        }
        var one = new List<ArchiveAppend>(1) { default };
        foreach (var record in batch)
        {
            one[0] = record;
            var delay = _firstBackoff;
            while (true)
            {
                if (_abandoned.IsCancellationRequested) return false;
                try
                {
                    _written.Add(await _store.AppendBatchAsync(one).ConfigureAwait(false));
                    EndOutage();
                    break;
                }
                catch (StorageException e) when (e.IsPermanent)
                {
                    Refused(record, e);
                    break;
                }
                catch (ObjectDisposedException)
                {
                    return false;
                }
                catch (Exception e)
                {
                    NoteFailure(e);
                }
                try
                {
                    await Task.Delay(delay, _time, _abandoned.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _maxBackoff.Ticks));
            }
        }
        return true;
    }

    private void Refused(ArchiveAppend record, StorageException e)
    {
        _dropped.Add(1, ReasonRefused);
        LogRefused(e, record.Username, record.Domain, record.Message.Id);
    }

    private void NoteFailure(Exception e)
    {
        _failedAttempts++;
        var now = _time.GetTimestamp();
        if (!_outage)
        {
            _outage = true;
            _outageStarted = now;
            _lastReport = now;
            _failedAttempts = 1;
            LogOutage(e, Enqueued - Done);
            return;
        }
        if (_time.GetElapsedTime(_lastReport, now) >= _reportEvery)
        {
            _lastReport = now;
            LogStillUnavailable(_time.GetElapsedTime(_outageStarted, now).TotalSeconds, Enqueued - Done, _capacity, Waiting, _failedAttempts, e.Message);
        }
    }

    private void EndOutage()
    {
        if (!_outage) return;
        _outage = false;
        LogRecovered(_time.GetElapsedTime(_outageStarted).TotalSeconds, _failedAttempts, Enqueued - Done);
    }

    [LoggerMessage(EventId = 3131, Level = LogLevel.Warning, Message = "Archive storage unavailable: {Queued} messages wait to be archived; retrying until it is back (nothing is dropped; the messages were delivered)")]
    private partial void LogOutage(Exception exception, long queued);

    [LoggerMessage(EventId = 3132, Level = LogLevel.Information, Message = "Archive storage available again after {Seconds:0.0} s ({Attempts} failed attempts): writing the {Queued} queued messages")]
    private partial void LogRecovered(double seconds, long attempts, long queued);

    [LoggerMessage(EventId = 3133, Level = LogLevel.Error, Message = "Archive storage refused a message for {Username}@{Domain} (archive id {Id}) for good: it is not archived (it was delivered); tendril.mam.dropped counts these")]
    private partial void LogRefused(Exception exception, string username, string domain, string id);

    [LoggerMessage(EventId = 3134, Level = LogLevel.Error, Message = "Archive writer stop: storage still unavailable after {Seconds} s; {Count} messages are not archived (they were delivered)")]
    private partial void LogStopGaveUp(long count, double seconds);

    [LoggerMessage(EventId = 3135, Level = LogLevel.Warning, Message = "Archive storage still unavailable after {Seconds:0} s: {Queued} messages queued (room for {Capacity}), {Waiting} senders waiting for room, {Attempts} failed attempts; last error: {Error}")]
    private partial void LogStillUnavailable(double seconds, long queued, int capacity, int waiting, long attempts, string error);
}

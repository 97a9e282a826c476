using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tendril.Storage;

namespace Tendril.Server.Features.Mam;

/// <summary>
/// Keeps archive writes off the stanza path: the MAM filters <see cref="EnqueueAsync"/> a record (its id and stamp
/// already assigned) and go on; one background loop drains the bounded queue in batches (everything queued, up to
/// <see cref="MaxBatch"/>) and writes each with one <see cref="IArchiveStore.AppendBatchAsync"/>.
/// <list type="bullet">
/// <item>Back-pressure: when the queue is full, <see cref="EnqueueAsync"/> waits for space — never drops, never grows.</item>
/// <item>Read-your-writes: <see cref="FlushAsync"/> queues a barrier and completes once everything queued before it is
/// written (or given up on), so a query sees every message archived before it.</item>
/// <item>Failure: a failed batch is retried with backoff up to <c>Mam:WriteRetrySeconds</c>, then dropped with an error
/// log and the <c>tendril.mam.dropped</c> counter (the messages were delivered already; the archive is a record).
/// One warning per outage, one information line on recovery.</item>
/// <item>Stop: <see cref="StopAsync"/> completes the queue and waits until it is drained, before storage closes.</item>
/// </list>
/// </summary>
internal sealed partial class ArchiveWriter
{
    public const int MaxBatch = 256;

    /// <summary>A queued record, or (with <see cref="Barrier"/> set) a flush barrier.</summary>
    private readonly record struct Entry(ArchiveAppend Record, TaskCompletionSource? Barrier);

    private readonly IArchiveStore _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _retryFor;
    private readonly Channel<Entry> _queue;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _written;
    private readonly Task _loop;

    public ArchiveWriter(IArchiveStore store, int capacity, TimeSpan retryFor, ILogger logger, TimeProvider time, Meter meter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _store = store;
        _logger = logger;
        _time = time;
        _retryFor = retryFor;
        _queue = Channel.CreateBounded<Entry>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _dropped = meter.CreateCounter<long>("tendril.mam.dropped", description: "Archive records dropped after the storage stayed unavailable.");
        _written = meter.CreateCounter<long>("tendril.mam.written", description: "Archive records written in batches.");
        _loop = Task.Run(DrainLoopAsync);
    }

    /// <summary>Queues <paramref name="record"/>; synchronous unless the queue is full (then waits for space).</summary>
    public ValueTask EnqueueAsync(ArchiveAppend record)
    {
        var entry = new Entry(record, null);
        return _queue.Writer.TryWrite(entry) ? ValueTask.CompletedTask : _queue.Writer.WriteAsync(entry);
    }

    /// <summary>Completes once every record queued before this call is written (or dropped after its retries).</summary>
    public async ValueTask FlushAsync()
    {
        var barrier = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _queue.Writer.WriteAsync(new Entry(default, barrier)).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            await _loop.ConfigureAwait(false); // stopping: everything queued is written once the loop ends
            return;
        }
        await barrier.Task.ConfigureAwait(false);
    }

    /// <summary>No more records; waits until everything queued is written.</summary>
    public Task StopAsync()
    {
        _queue.Writer.TryComplete();
        return _loop;
    }

    private async Task DrainLoopAsync()
    {
        var batch = new List<ArchiveAppend>(MaxBatch);
        var barriers = new List<TaskCompletionSource>();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && reader.TryRead(out var entry))
            {
                if (entry.Barrier is { } b) barriers.Add(b);
                else batch.Add(entry.Record);
            }
            if (batch.Count > 0) await WriteAsync(batch).ConfigureAwait(false);
            batch.Clear();
            // A barrier is released after the batch holding everything queued before it.
            foreach (var b in barriers) b.TrySetResult();
            barriers.Clear();
        }
    }

    private bool _outage;

    private async Task WriteAsync(List<ArchiveAppend> batch)
    {
        var started = _time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
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
                    LogOutage(e, batch.Count);
                }
                if (e is ObjectDisposedException || _time.GetElapsedTime(started) >= _retryFor)
                {
                    _dropped.Add(batch.Count);
                    LogDropped(e, batch.Count);
                    return;
                }
            }
            await Task.Delay(delay, _time).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }

    [LoggerMessage(EventId = 3131, Level = LogLevel.Warning, Message = "Archive storage unavailable: writing {Count} queued messages failed; retrying")]
    private partial void LogOutage(Exception exception, int count);

    [LoggerMessage(EventId = 3132, Level = LogLevel.Information, Message = "Archive storage available again: {Count} queued messages written")]
    private partial void LogRecovered(int count);

    [LoggerMessage(EventId = 3133, Level = LogLevel.Error, Message = "Archive storage still unavailable: {Count} messages dropped from the archive (they were delivered)")]
    private partial void LogDropped(Exception exception, int count);
}

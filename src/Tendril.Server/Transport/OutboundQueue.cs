using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace Tendril.Server.Transport;

/// <summary>
/// A connection's outbound queue (client streams, component streams): many producers (the router, on other connections' threads), one consumer (the
/// writer loop). A ring buffer under a lock, with one reusable wait for the single reader.
/// </summary>
/// <remarks>
/// Replaces an unbounded <c>Channel&lt;Outbound&gt;</c>, whose first 32-slot segment, segment object and two reader
/// operations cost ~1.4 KiB per connection whether or not anything is ever queued (measured with a heap walk of
/// 3,000 idle sessions; docs/benchmarks.md). This queue starts at 4 slots, doubles under bursts and shrinks back when
/// the heartbeat finds it empty (<see cref="TrimExcess"/>), so an idle connection holds ~0.2 KiB. The count bound
/// and slow-consumer policy stay with the caller (<see cref="C2sStream"/>, the component connection); this type never refuses an item except
/// after <see cref="Complete"/>.
/// Continuations run asynchronously: a producer never runs the writer loop inline on its own thread.
/// </remarks>
internal sealed class OutboundQueue<T> : IValueTaskSource<bool>
    where T : struct
{
    private const int InitialCapacity = 4;

    private T[] _items = new T[InitialCapacity];
    private int _head;
    private int _count;
    private bool _completed;
    private bool _readerWaiting;
    private ManualResetValueTaskSourceCore<bool> _waiter = new() { RunContinuationsAsynchronously = true };

    /// <summary>Items waiting (diagnostics).</summary>
    public int Count
    {
        get
        {
            lock (this) return _count;
        }
    }

    /// <summary>Appends an item; false once the queue is completed.</summary>
    public bool TryWrite(T item)
    {
        bool wake;
        lock (this)
        {
            if (_completed) return false;
            if (_count == _items.Length) Grow();
            _items[(_head + _count) % _items.Length] = item;
            _count++;
            wake = _readerWaiting;
            _readerWaiting = false;
        }
        if (wake) _waiter.SetResult(true);
        return true;
    }

    /// <summary>Takes the oldest item, if any (single reader).</summary>
    public bool TryRead(out T item)
    {
        lock (this)
        {
            if (_count == 0)
            {
                item = default;
                return false;
            }
            item = _items[_head];
            _items[_head] = default;
            _head = (_head + 1) % _items.Length;
            _count--;
            return true;
        }
    }

    /// <summary>
    /// Gives back the memory a burst grew the ring to, when it is empty. Called from the connection's heartbeat (once a
    /// second), not on every drain: a connection receiving bursts keeps its ring between them instead of growing it
    /// again each time (which cost ~50 B per routed stanza in RoutingBenchmarks' 1,000-stanza bursts).
    /// </summary>
    public void TrimExcess()
    {
        lock (this)
        {
            if (_count == 0 && _items.Length > InitialCapacity)
            {
                _items = new T[InitialCapacity];
                _head = 0;
            }
        }
    }

    /// <summary>
    /// Completes when an item is available (true) or the queue is completed and drained (false). Single reader: at most
    /// one wait outstanding.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (this)
        {
            if (_count > 0) return new ValueTask<bool>(true);
            if (_completed) return new ValueTask<bool>(false);
            Debug.Assert(!_readerWaiting, "one reader only");
            _waiter.Reset();
            _readerWaiting = true;
            return new ValueTask<bool>(this, _waiter.Version);
        }
    }

    /// <summary>No more items will be accepted; the reader drains what is queued, then sees false.</summary>
    public bool Complete()
    {
        bool wake, any;
        lock (this)
        {
            if (_completed) return false;
            _completed = true;
            wake = _readerWaiting;
            _readerWaiting = false;
            any = _count > 0;
        }
        if (wake) _waiter.SetResult(any);
        return true;
    }

    private void Grow()
    {
        var bigger = new T[_items.Length * 2];
        for (var i = 0; i < _count; i++) bigger[i] = _items[(_head + i) % _items.Length];
        _items = bigger;
        _head = 0;
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _waiter.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _waiter.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _waiter.OnCompleted(continuation, state, token, flags);
}

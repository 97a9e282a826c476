using System.Buffers;
using System.Buffers.Binary;
using System.Threading.Channels;
using Tendril.Redis;
using Tendril.Xml;

namespace Tendril.Cluster;

/// <summary>One queued record for another node; <see cref="Stanza"/> is kept to re-route it if the node is gone.</summary>
internal readonly record struct OutboxItem(RecordKind Kind, RecordFlags Flags, string Target, ReadOnlyMemory<byte> Payload, XmlElement? Stanza);

/// <summary>
/// The records for one destination node, in order, with delivery confirmed end to end (docs/cluster.md, "Nothing lost"):
/// <list type="bullet">
/// <item>A bounded queue, drained by one pump that publishes many records per PUBLISH. A full queue refuses the record
/// (the caller bounces it to its sender with a <c>wait</c> error).</item>
/// <item>Each published batch carries this outbox's stream id and the next sequence number, and is kept until the
/// destination acknowledges it — a PUBLISH that Redis took only says the bytes reached a subscriber's socket, not that a
/// node that is frozen or dying handled them. At most <c>Cluster:OutboxStanzas</c> records wait unacknowledged; beyond
/// that the pump stops publishing (the queue fills: back-pressure) until acknowledgements come.</item>
/// <item>The destination handles a stream's batches strictly in sequence (a gap — Redis restarted, or cut its
/// subscriber off — makes it drop what follows, go-back-N); unacknowledged batches are published again after a Redis
/// reconnect at once, and otherwise when the oldest has waited 2 s (then 4, 8… up to 30 s). Duplicates are skipped by
/// sequence number.</item>
/// <item>When the destination is declared dead (this node purged it, another node's purge notice arrived, or its
/// channel had no listener for two node timeouts and its liveness key is gone), everything unacknowledged or queued is
/// handed back to local routing at once — offline storage, the account's other sessions, bounces — and the outbox starts
/// a new stream. When it restarted (its acknowledgements come from a new process), what the old process may not have
/// handled is handed back the same way.</item>
/// </list>
/// So a stanza accepted for another node's session is delivered or handed back at least once; a node that handled a
/// batch and died before its acknowledgement went out causes a duplicate (clients drop those by XEP-0359 stanza id).
/// </summary>
internal sealed class NodeOutbox
{
    private const int MaxBatchBytes = 256 * 1024;
    private const int MaxBatchRecords = 512;
    private const long FirstRetransmitMs = 2_000;
    private const long MaxRetransmitMs = 30_000;

    private readonly Channel<OutboxItem> _queue;
    private readonly RedisCluster _cluster;
    private readonly string _channel;
    private readonly int _window;
    private readonly Task _pump;

    private readonly Lock _gate = new();
    private readonly Queue<SentBatch> _unacked = new();
    private int _unackedRecords;
    private long _stream = NewStream();
    private long _sequence;
    private long _peerIncarnation;
    private List<OutboxItem>? _peerRestarted;
    private bool _goBack;
    private long _retransmitDelay = FirstRetransmitMs;
    private long _ackStream;
    private long _ackSequence;
    private int _dead;
    private TaskCompletionSource _wake = NewWake();

    public NodeOutbox(RedisCluster cluster, string node, string channel, int capacity)
    {
        _cluster = cluster;
        Node = node;
        _channel = channel;
        _window = capacity;
        _queue = Channel.CreateBounded<OutboxItem>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _pump = Task.Run(PumpAsync);
    }

    public string Node { get; }

    /// <summary>Records queued or published and not yet acknowledged.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _queue.Reader.Count + _unackedRecords;
        }
    }

    public bool TryEnqueue(in OutboxItem item) => _queue.Writer.TryWrite(item);

    /// <summary>Stops accepting records; the pump finishes what is queued and waits for its acknowledgement.</summary>
    public Task CompleteAsync()
    {
        _queue.Writer.TryComplete();
        Wake();
        return _pump;
    }

    /// <summary>The node was declared dead: what waits for it goes back to local routing now.</summary>
    public void NodeDead()
    {
        Volatile.Write(ref _dead, 1);
        Wake();
    }

    /// <summary>Batches of this node's stream up to <paramref name="sequence"/> were handled by process <paramref name="incarnation"/> there.</summary>
    public void Acknowledge(long stream, long sequence, long incarnation)
    {
        lock (_gate)
        {
            if (stream != _stream) return; // an acknowledgement from before a hand-back
            if (_peerIncarnation != incarnation)
            {
                // The node restarted (or this is its first acknowledgement): what is older than what the new process
                // acknowledges went to the old one, which may have died with it.
                if (_peerIncarnation != 0)
                {
                    while (_unacked.TryPeek(out var older) && older.Sequence < sequence)
                    {
                        _unacked.Dequeue();
                        _unackedRecords -= older.Items.Count;
                        (_peerRestarted ??= []).AddRange(older.Items);
                    }
                }
                _peerIncarnation = incarnation;
            }
            var progress = false;
            while (_unacked.TryPeek(out var batch) && batch.Sequence <= sequence)
            {
                _unacked.Dequeue();
                _unackedRecords -= batch.Items.Count;
                progress = true;
            }
            if (progress) _retransmitDelay = FirstRetransmitMs;
        }
        Wake();
    }

    /// <summary>Queues an acknowledgement of the destination's own stream to this node (sent with the next frame, alone if need be).</summary>
    public void SendAcknowledgement(long stream, long sequence)
    {
        lock (_gate)
        {
            if (_ackStream == stream && _ackSequence >= sequence) return;
            _ackStream = stream;
            _ackSequence = sequence;
        }
        Wake();
    }

    private static long NewStream() => Random.Shared.NextInt64(1, long.MaxValue);

    private static TaskCompletionSource NewWake() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Wake() => Interlocked.Exchange(ref _wake, NewWake()).TrySetResult();

    private async Task PumpAsync()
    {
        var frame = new ArrayBufferWriter<byte>(4096);
        var reader = _queue.Reader;
        try
        {
            while (true)
            {
                var wake = Volatile.Read(ref _wake).Task; // read before looking at the state it signals
                if (Interlocked.Exchange(ref _dead, 0) == 1)
                {
                    await HandBackAsync().ConfigureAwait(false);
                    continue;
                }
                List<OutboxItem>? restarted;
                lock (_gate)
                {
                    restarted = _peerRestarted;
                    _peerRestarted = null;
                }
                if (restarted is not null) await _cluster.GiveBackAsync(Node, restarted, nodeDead: false).ConfigureAwait(false);

                var retransmit = RetransmitDue(out var wait);
                if (retransmit is not null)
                {
                    foreach (var sent in retransmit)
                    {
                        Encode(frame, sent.Stream, sent.Sequence, sent.Items);
                        if (!await PublishAsync(frame.WrittenMemory).ConfigureAwait(false)) break;
                    }
                    continue;
                }

                var batch = ReadBatch(reader, out var stream, out var sequence);
                var ack = TakeAcknowledgement();
                if (batch is null && ack is null)
                {
                    if (reader.Completion.IsCompleted && UnackedRecords == 0) return;
                    await WaitAsync(reader, wake, wait).ConfigureAwait(false);
                    continue;
                }
                Encode(frame, stream, sequence, batch ?? [], ack);
                await PublishAsync(frame.WrittenMemory).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            ClusterLog.OutboxFailed(_cluster.Logger, Node, e);
        }
    }

    private int UnackedRecords
    {
        get
        {
            lock (_gate) return _unackedRecords;
        }
    }

    /// <summary>The next batch, registered as unacknowledged before it is published (the acknowledgement may come before PUBLISH returns).</summary>
    private List<OutboxItem>? ReadBatch(ChannelReader<OutboxItem> reader, out long stream, out long sequence)
    {
        lock (_gate)
        {
            stream = _stream;
            sequence = 0;
            if (_unackedRecords >= _window || !reader.TryPeek(out _)) return null;
            var batch = new List<OutboxItem>(Math.Min(reader.Count, MaxBatchRecords));
            var bytes = 0;
            while (batch.Count < MaxBatchRecords && bytes < MaxBatchBytes && reader.TryRead(out var item))
            {
                batch.Add(item);
                bytes += item.Payload.Length + item.Target.Length + 8;
            }
            sequence = ++_sequence;
            _unacked.Enqueue(new SentBatch(stream, sequence, batch) { SentAt = Environment.TickCount64 });
            _unackedRecords += batch.Count;
            return batch;
        }
    }

    private (long Stream, long Sequence)? TakeAcknowledgement()
    {
        lock (_gate)
        {
            if (_ackSequence == 0) return null;
            var ack = (_ackStream, _ackSequence);
            _ackSequence = 0;
            return ack;
        }
    }

    /// <summary>
    /// The unacknowledged batches to publish again, oldest first: all of them after a Redis reconnect, or when the oldest
    /// has waited its delay. Otherwise null, with how long until the oldest is due (-1: nothing waits).
    /// </summary>
    private List<SentBatch>? RetransmitDue(out long wait)
    {
        lock (_gate)
        {
            wait = -1;
            if (!_unacked.TryPeek(out var oldest)) return null;
            var now = Environment.TickCount64;
            var due = oldest.SentAt + _retransmitDelay;
            if (!_goBack && now < due)
            {
                wait = due - now;
                return null;
            }
            if (!_goBack) _retransmitDelay = Math.Min(2 * _retransmitDelay, MaxRetransmitMs);
            _goBack = false;
            var all = new List<SentBatch>(_unacked.Count);
            foreach (var sent in _unacked)
            {
                sent.SentAt = now;
                all.Add(sent);
            }
            return all;
        }
    }

    private async Task WaitAsync(ChannelReader<OutboxItem> reader, Task wake, long retransmitIn)
    {
        bool room;
        lock (_gate) room = _unackedRecords < _window;
        using var timer = new CancellationTokenSource();
        var readable = room ? reader.WaitToReadAsync(timer.Token).AsTask() : Task.Delay(Timeout.Infinite, timer.Token);
        var delay = retransmitIn >= 0 ? Task.Delay(TimeSpan.FromMilliseconds(retransmitIn + 1), timer.Token) : Task.Delay(Timeout.Infinite, timer.Token);
        await Task.WhenAny(readable, wake, delay).ConfigureAwait(false);
        await timer.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>Everything unacknowledged and queued goes back to local routing; the outbox starts a new stream.</summary>
    private async Task HandBackAsync()
    {
        var items = new List<OutboxItem>();
        lock (_gate)
        {
            foreach (var sent in _unacked) items.AddRange(sent.Items);
            _unacked.Clear();
            _unackedRecords = 0;
            _stream = NewStream();
            _peerIncarnation = 0;
            _goBack = false;
            _retransmitDelay = FirstRetransmitMs;
            _ackSequence = 0;
            while (_queue.Reader.TryRead(out var item)) items.Add(item);
        }
        await _cluster.GiveBackAsync(Node, items, nodeDead: true).ConfigureAwait(false);
    }

    private void Encode(ArrayBufferWriter<byte> frame, long stream, long sequence, List<OutboxItem> items, (long Stream, long Sequence)? ack = null)
    {
        frame.ResetWrittenCount();
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteInt64BigEndian(header, stream);
        BinaryPrimitives.WriteInt64BigEndian(header[8..], items.Count > 0 ? sequence : 0);
        ClusterFrame.Write(frame, RecordKind.Batch, RecordFlags.None, _cluster.NodeId, header[..16]);
        if (ack is { } a)
        {
            BinaryPrimitives.WriteInt64BigEndian(header, a.Stream);
            BinaryPrimitives.WriteInt64BigEndian(header[8..], a.Sequence);
            BinaryPrimitives.WriteInt64BigEndian(header[16..], _cluster.Incarnation);
            ClusterFrame.Write(frame, RecordKind.Ack, RecordFlags.None, _cluster.NodeId, header);
        }
        foreach (var item in items) ClusterFrame.Write(frame, item.Kind, item.Flags, item.Target, item.Payload.Span);
    }

    /// <summary>
    /// Publishes one frame; false when it did not get through and the pump must look at the state again (Redis came back:
    /// go back to the oldest unacknowledged batch; the node is dead: hand back).
    /// </summary>
    private async Task<bool> PublishAsync(ReadOnlyMemory<byte> frame)
    {
        var unheardSince = 0L;
        while (true)
        {
            if (Volatile.Read(ref _dead) == 1) return false;
            long receivers;
            try
            {
                receivers = await _cluster.Redis.PublishAsync(_channel, frame).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
            {
                // Redis is down (or slow): after the reconnect every unacknowledged batch is published again, in order
                // (Redis may have lost what it had not passed on yet); the destination skips what it already handled.
                await _cluster.WhenConnectedAsync().ConfigureAwait(false);
                lock (_gate) _goBack = true;
                return false;
            }
            if (receivers > 0) return true;
            // Nobody listens on the node's channel: it is resubscribing after a Redis restart, or dead. Retry while it
            // may come back; once it has been unheard for two node timeouts and its liveness key is gone (Redis' clock),
            // or for ten node timeouts whatever the key says, it is dead.
            var now = Environment.TickCount64;
            if (unheardSince == 0) unheardSince = now;
            var unheard = now - unheardSince;
            if ((unheard > 2L * _cluster.Options.NodeTimeoutMs && !await _cluster.IsAliveAsync(Node).ConfigureAwait(false))
                || unheard > 10L * _cluster.Options.NodeTimeoutMs)
            {
                Volatile.Write(ref _dead, 1);
                return false;
            }
            var wake = Volatile.Read(ref _wake).Task;
            await Task.WhenAny(Task.Delay(100), wake).ConfigureAwait(false);
        }
    }

    /// <summary>A published batch waiting for its acknowledgement.</summary>
    private sealed class SentBatch(long stream, long sequence, List<OutboxItem> items)
    {
        public long Stream { get; } = stream;

        public long Sequence { get; } = sequence;

        public List<OutboxItem> Items { get; } = items;

        public long SentAt { get; set; }
    }
}

/// <summary>
/// The receiving side of the other nodes' outbox streams: which batch of each was handled last, so a batch is handled
/// once and in order (a duplicate or one after a gap is not handled; the sender publishes again from the oldest batch
/// it still holds). A stream last used before this node was declared dead (an older generation) was handed back by
/// its sender, which starts a new one: what still arrives on it is not handled, nor acknowledged.
/// </summary>
internal sealed class InboundStreams
{
    private readonly Dictionary<string, (long Stream, long Last, long Generation)> _last = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Whether to handle batch <paramref name="sequence"/>; otherwise <paramref name="acknowledge"/> is what to acknowledge again (0: nothing).</summary>
    public bool ShouldHandle(string sender, long stream, long sequence, long generation, out long acknowledge)
    {
        lock (_gate)
        {
            acknowledge = 0;
            if (!_last.TryGetValue(sender, out var last) || last.Stream != stream) return true;
            if (last.Generation < generation) return false;
            if (sequence == last.Last + 1) return true;
            acknowledge = last.Last;
            return false;
        }
    }

    public void Handled(string sender, long stream, long sequence, long generation)
    {
        lock (_gate) _last[sender] = (stream, sequence, generation);
    }
}

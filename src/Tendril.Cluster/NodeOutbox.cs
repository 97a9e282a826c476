using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tendril.Redis;
using Tendril.Xml;

namespace Tendril.Cluster;

/// <summary>One queued record for another node; <see cref="Stanza"/> is kept to bounce or re-route it if the node is gone.</summary>
internal readonly record struct OutboxItem(RecordKind Kind, RecordFlags Flags, string Target, ReadOnlyMemory<byte> Payload, XmlElement? Stanza);

/// <summary>
/// The bounded queue of records for one destination node, drained by one pump that publishes them in order, many per
/// PUBLISH. While Redis is unreachable the pump waits and the queue fills up to its bound (the caller bounces what does
/// not fit with a wait error); after the reconnect it publishes what waited, in order.
/// </summary>
internal sealed class NodeOutbox
{
    private const int MaxBatchBytes = 256 * 1024;
    private const int MaxBatchRecords = 512;
    private readonly Channel<OutboxItem> _queue;
    private readonly RedisCluster _cluster;
    private readonly string _channel;
    private readonly Task _pump;

    public NodeOutbox(RedisCluster cluster, string node, string channel, int capacity)
    {
        _cluster = cluster;
        Node = node;
        _channel = channel;
        _queue = Channel.CreateBounded<OutboxItem>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _pump = Task.Run(PumpAsync);
    }

    public string Node { get; }

    public int Count => _queue.Reader.Count;

    public bool TryEnqueue(in OutboxItem item) => _queue.Writer.TryWrite(item);

    /// <summary>Stops accepting records; the pump finishes what is queued (or gives it up when the node is dead).</summary>
    public Task CompleteAsync()
    {
        _queue.Writer.TryComplete();
        return _pump;
    }

    private async Task PumpAsync()
    {
        var frame = new ArrayBufferWriter<byte>(4096);
        var batch = new List<OutboxItem>(MaxBatchRecords);
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                frame.ResetWrittenCount();
                while (batch.Count < MaxBatchRecords && frame.WrittenCount < MaxBatchBytes && reader.TryRead(out var item))
                {
                    batch.Add(item);
                    ClusterFrame.Write(frame, item.Kind, item.Flags, item.Target, item.Payload.Span);
                }
                await PublishAsync(frame.WrittenMemory, batch).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            ClusterLog.OutboxFailed(_cluster.Logger, Node, e);
        }
    }

    private async Task PublishAsync(ReadOnlyMemory<byte> frame, List<OutboxItem> batch)
    {
        var unheardSince = 0L;
        while (true)
        {
            long receivers;
            try
            {
                receivers = await _cluster.Redis.PublishAsync(_channel, frame).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
            {
                // Redis is down (or slow): keep the batch, wait for the reconnect, publish again, in order.
                // A timeout may mean it was published after all: the receiver may see it twice (at-least-once).
                await _cluster.WhenConnectedAsync().ConfigureAwait(false);
                continue;
            }
            if (receivers > 0) return;
            // Nobody listens on the node's channel: it is resubscribing after a Redis restart, or dead. Retry while it
            // may come back; once it has been unheard for two node timeouts and its liveness key is gone (Redis' clock),
            // it is dead: the stanzas are handed back to local routing (offline storage, bounces), never dropped.
            var now = Environment.TickCount64;
            if (unheardSince == 0) unheardSince = now;
            var unheard = now - unheardSince;
            if ((unheard > 2L * _cluster.Options.NodeTimeoutMs && !await _cluster.IsAliveAsync(Node).ConfigureAwait(false))
                || unheard > 10L * _cluster.Options.NodeTimeoutMs)
            {
                await _cluster.GiveBackAsync(Node, batch).ConfigureAwait(false);
                return;
            }
            await Task.Delay(100).ConfigureAwait(false);
        }
    }
}

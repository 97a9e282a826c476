using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Tendril.Redis.Internal;

/// <summary>
/// One <see cref="RedisClient.SubscribeAsync"/> registration: a bounded queue filled by the subscriber connection's
/// read loop and one loop calling the handler, so messages reach it in publication order, one at a time.
/// </summary>
internal sealed class Subscription : IAsyncDisposable
{
    /// <summary>Messages held for a slow handler before the read loop waits (and Redis buffers, up to its pubsub limit).</summary>
    public const int QueueCapacity = 64 * 1024;

    private readonly Channel<ReadOnlyMemory<byte>> _queue = System.Threading.Channels.Channel.CreateBounded<ReadOnlyMemory<byte>>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });
    private readonly Func<ReadOnlyMemory<byte>, ValueTask> _handler;
    private readonly Func<Subscription, ValueTask> _unsubscribe;
    private readonly ILogger _logger;
    private int _disposed;

    public Subscription(string channel, Func<ReadOnlyMemory<byte>, ValueTask> handler, Func<Subscription, ValueTask> unsubscribe, ILogger logger)
    {
        Channel = channel;
        _handler = handler;
        _unsubscribe = unsubscribe;
        _logger = logger;
    }

    public string Channel { get; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public void Start() => _ = Task.Run(RunAsync);

    /// <summary>
    /// Called by <paramref name="source"/>'s read loop; waits only when the queue is full. A message whose connection
    /// closed while it waited is dropped: it must not land behind messages of the connection that replaced it.
    /// </summary>
    public ValueTask EnqueueAsync(ReadOnlyMemory<byte> message, RedisConnection source)
    {
        if (_queue.Writer.TryWrite(message)) return ValueTask.CompletedTask;
        return EnqueueSlowAsync(message, source);
    }

    private async ValueTask EnqueueSlowAsync(ReadOnlyMemory<byte> message, RedisConnection source)
    {
        var writer = _queue.Writer;
        while (await writer.WaitToWriteAsync().ConfigureAwait(false))
        {
            if (source.IsClosed || writer.TryWrite(message)) return;
        }
        // Completed: disposed meanwhile, the message has no one to go to.
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var message))
            {
                if (IsDisposed) return;
                try
                {
                    await _handler(message).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // a failing handler must not stop the subscription
                catch (Exception e)
#pragma warning restore CA1031
                {
                    Log.HandlerFailed(_logger, Channel, e);
                }
            }
        }
    }

    /// <summary>Stops delivery (queued messages are dropped) and tells the client, which sends UNSUBSCRIBE when it was the channel's last.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return ValueTask.CompletedTask;
        _queue.Writer.TryComplete();
        return _unsubscribe(this);
    }

    /// <summary>Stops delivery without unsubscribing (the client is being disposed).</summary>
    public void Abandon()
    {
        Interlocked.Exchange(ref _disposed, 1);
        _queue.Writer.TryComplete();
    }
}

using Tendril.Server.Streams;
using Tendril.Server.Transport;

namespace Tendril.Server.Tests.Transport;

public class OutboundQueueTests
{
    private static Outbound Item(int i) => new(OutboundKind.Raw, i);

    [Fact]
    public void Items_ComeOutInOrder_ThroughGrowthAndWrapAround()
    {
        var queue = new OutboundQueue<Outbound>();
        var next = 0;
        var expected = 0;
        // Interleave writes and reads so the ring wraps, then burst past the initial capacity.
        for (var round = 0; round < 50; round++)
        {
            var writes = round % 3 == 0 ? 200 : 3;
            for (var i = 0; i < writes; i++) Assert.True(queue.TryWrite(Item(next++)));
            var reads = round % 3 == 0 ? 150 : 4;
            for (var i = 0; i < reads && queue.TryRead(out var item); i++) Assert.Equal(expected++, (int)item.Payload!);
            queue.TrimExcess(); // the heartbeat's call: shrinks an empty ring, leaves a non-empty one alone
        }
        while (queue.TryRead(out var item)) Assert.Equal(expected++, (int)item.Payload!);
        Assert.Equal(next, expected);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Wait_CompletesWhenAnItemArrives_AndReportsFalseOnceCompletedAndDrained()
    {
        var queue = new OutboundQueue<Outbound>();
        var wait = queue.WaitToReadAsync();
        Assert.False(wait.IsCompleted);
        Assert.True(queue.TryWrite(Item(1)));
        Assert.True(await wait);
        Assert.True(queue.TryRead(out _));

        wait = queue.WaitToReadAsync();
        Assert.False(wait.IsCompleted);
        Assert.True(queue.TryWrite(Item(2)));
        Assert.True(queue.Complete());
        Assert.False(queue.Complete());
        Assert.False(queue.TryWrite(Item(3)));
        Assert.True(await wait);
        Assert.True(queue.TryRead(out var last));
        Assert.Equal(2, (int)last.Payload!);
        Assert.False(await queue.WaitToReadAsync());
    }

    [Fact]
    public async Task CompletingAWaitingEmptyQueue_WakesTheReaderWithFalse()
    {
        var queue = new OutboundQueue<Outbound>();
        var wait = queue.WaitToReadAsync();
        queue.Complete();
        Assert.False(await wait);
    }

    [Fact]
    public async Task ConcurrentProducers_AllItemsDelivered_EachProducerInOrder()
    {
        const int producers = 4, perProducer = 20_000;
        var queue = new OutboundQueue<Outbound>();
        var lastSeen = new int[producers];
        Array.Fill(lastSeen, -1);
        var received = 0;
        var reader = Task.Run(async () =>
        {
            while (await queue.WaitToReadAsync())
            {
                while (queue.TryRead(out var item))
                {
                    var (p, i) = ((int, int))item.Payload!;
                    Assert.Equal(lastSeen[p] + 1, i);
                    lastSeen[p] = i;
                    received++;
                }
            }
        });
        var writers = Enumerable.Range(0, producers).Select(p => Task.Run(() =>
        {
            for (var i = 0; i < perProducer; i++) Assert.True(queue.TryWrite(new Outbound(OutboundKind.Raw, (p, i))));
        })).ToArray();
        await Task.WhenAll(writers);
        queue.Complete();
        await reader.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(producers * perProducer, received);
    }
}

using System.Collections.Concurrent;
using System.Text;
using Tendril.Tests.Support;

namespace Tendril.Redis.Tests;

/// <summary>Redis killed, restarted, stopped, refusing: each test has its own redis-server to break.</summary>
public sealed class RedisFaultTests : IDisposable
{
    private readonly RedisServer _redis = new();

    public void Dispose() => _redis.Dispose();

    private RedisClientOptions Options(TimeSpan? commandTimeout = null) => new()
    {
        EndPoint = _redis.EndPoint,
        CommandTimeout = commandTimeout ?? TimeSpan.FromSeconds(60),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        ReconnectMinDelay = TimeSpan.FromMilliseconds(20),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>A task completing once both connections have reported their loss.</summary>
    private static Task BothLost(RedisClient client)
    {
        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int count = 0;
        client.Disconnected += () =>
        {
            if (Interlocked.Increment(ref count) == 2) lost.TrySetResult();
        };
        return lost.Task;
    }

    [Fact]
    public async Task Killed_redis_fails_in_flight_commands_then_fails_fast_then_everything_resumes_after_restart()
    {
        await using var client = new RedisClient(Options());
        await client.ConnectAsync().Within();
        var received = new BlockingCollection<string>();
        await using var subscription = await client.SubscribeAsync("events", m =>
        {
            received.Add(Encoding.UTF8.GetString(m.Span));
            return ValueTask.CompletedTask;
        }).Within();
        Assert.Equal(1, await client.PublishAsync("events", "before"u8.ToArray()).Within());
        Assert.Equal("before", received.Take());

        // Freeze Redis so commands are surely in flight (written, unanswered), then kill it.
        int disconnectedEvents = 0, reconnectedEvents = 0;
        client.Disconnected += () => Interlocked.Increment(ref disconnectedEvents);
        client.Reconnected += () => Interlocked.Increment(ref reconnectedEvents);
        var lost = BothLost(client);
        var reconnected = Waits.Next(h => client.Reconnected += h);
        _redis.Pause();
        var inFlight = Enumerable.Range(0, 100).Select(i => client.ExecuteAsync("SET", "k" + i, i)).ToArray();
        _redis.Kill();
        foreach (var command in inFlight) await Assert.ThrowsAsync<RedisConnectionException>(() => command.Within());
        await lost.Within();
        Assert.False(client.IsConnected);

        // While down: failed at once, nothing queued.
        var whileDown = client.ExecuteAsync("PING");
        Assert.True(whileDown.IsFaulted);
        Assert.IsType<RedisConnectionException>(whileDown.Exception!.InnerException);
        Assert.True(client.PublishAsync("events", "lost"u8.ToArray()).IsFaulted);
        await Assert.ThrowsAsync<RedisConnectionException>(() => client.SubscribeAsync("other", _ => ValueTask.CompletedTask));
        Assert.False(reconnected.IsCompleted);

        _redis.Start();
        await reconnected.Within();
        Assert.True(client.IsConnected);
        Assert.Equal("PONG", (await client.ExecuteAsync("PING").Within()).AsString());
        // Nothing from before the crash was stored (no persistence), and nothing phantom-replayed.
        Assert.True((await client.ExecuteAsync("GET", "k1").Within()).IsNull);
        // The subscription was restored before Reconnected fired.
        Assert.Equal(1, await client.PublishAsync("events", "after"u8.ToArray()).Within());
        Assert.Equal("after", received.Take());
        Assert.Empty(received);
        // Once per lost connection (command + subscriber), once for the recovery.
        Assert.Equal((2, 1), (Volatile.Read(ref disconnectedEvents), Volatile.Read(ref reconnectedEvents)));
    }

    [Fact]
    public async Task Redis_restarted_repeatedly_under_load_every_command_succeeds_or_fails_cleanly()
    {
        await using var client = new RedisClient(Options());
        await client.ConnectAsync().Within();
        var delivered = new ConcurrentQueue<(int Worker, long Sequence)>();
        await using var subscription = await client.SubscribeAsync("load", m =>
        {
            var parts = Encoding.UTF8.GetString(m.Span).Split(':');
            delivered.Enqueue((int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)));
            return ValueTask.CompletedTask;
        }).Within();

        using var stop = new CancellationTokenSource();
        long succeeded = 0, failedCleanly = 0;
        var unexpected = new ConcurrentQueue<Exception>();
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (long i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    var increment = client.ExecuteAsync("INCR", "w" + w);
                    var echo = client.ExecuteAsync("ECHO", "e" + i);
                    var publish = client.PublishAsync("load", Encoding.UTF8.GetBytes(w + ":" + i));
                    await Task.WhenAll(increment, echo, publish).ConfigureAwait(false);
                    if (echo.Result.AsString() != "e" + i) throw new InvalidOperationException("reply mismatch: " + echo.Result);
                    Interlocked.Increment(ref succeeded);
                }
                catch (Exception e) when (Unwrap(e) is RedisConnectionException)
                {
                    Interlocked.Increment(ref failedCleanly);
                    await Task.Yield();
                }
                catch (Exception e)
                {
                    unexpected.Enqueue(e);
                    return;
                }
            }
        })).ToArray();

        for (int round = 0; round < 3; round++)
        {
            var reconnected = Waits.Next(h => client.Reconnected += h);
            long before = Interlocked.Read(ref succeeded);
            await WaitUntil(() => Interlocked.Read(ref succeeded) > before + 200);
            if (round % 2 == 0) _redis.Kill(); else _redis.Stop();
            _redis.Start();
            await reconnected.Within();
        }
        long last = Interlocked.Read(ref succeeded);
        await WaitUntil(() => Interlocked.Read(ref succeeded) > last + 200);
        stop.Cancel();
        await Task.WhenAll(workers).Within();

        Assert.Empty(unexpected);
        Assert.True(failedCleanly > 0, "some commands were cut off by the restarts");
        Assert.True(client.IsConnected);
        // Messages published while Redis was down are lost (pub/sub is at-most-once), but never reordered.
        foreach (var worker in delivered.GroupBy(d => d.Worker))
        {
            var sequence = worker.Select(d => d.Sequence).ToArray();
            Assert.True(sequence.Zip(sequence.Skip(1)).All(p => p.First < p.Second), "worker " + worker.Key + " reordered");
        }
        Assert.Equal(4, delivered.Select(d => d.Worker).Distinct().Count());
    }

    private static Exception Unwrap(Exception e) => e is AggregateException { InnerException: { } inner } ? Unwrap(inner) : e;

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Waits.Long);
        while (!condition())
        {
            timeout.Token.ThrowIfCancellationRequested();
            await Task.Delay(10, timeout.Token);
        }
    }

    [Fact]
    public async Task A_frozen_redis_times_commands_out_and_the_client_recovers_after_SIGCONT()
    {
        await using var client = new RedisClient(Options(commandTimeout: TimeSpan.FromSeconds(1)));
        await client.ConnectAsync().Within();
        var received = new BlockingCollection<string>();
        await using var subscription = await client.SubscribeAsync("after-freeze", m =>
        {
            received.Add(Encoding.UTF8.GetString(m.Span));
            return ValueTask.CompletedTask;
        }).Within();
        var lost = BothLost(client);
        var reconnected = Waits.Next(h => client.Reconnected += h);

        _redis.Pause();
        try
        {
            await Assert.ThrowsAsync<RedisTimeoutException>(() => client.ExecuteAsync("PING").Within());
            // The idle subscriber connection's PING times out too: both are reset.
            await lost.Within();
        }
        finally
        {
            _redis.Resume();
        }
        await reconnected.Within();
        Assert.Equal("PONG", (await client.ExecuteAsync("PING").Within()).AsString());
        Assert.Equal(1, await client.PublishAsync("after-freeze", "thawed"u8.ToArray()).Within());
        Assert.Equal("thawed", received.Take());
    }

    [Fact]
    public async Task Subscribing_and_unsubscribing_across_restarts_leaves_redis_subscribed_to_exactly_the_live_channels()
    {
        await using var client = new RedisClient(Options());
        await client.ConnectAsync().Within();
        const int channels = 16;
        var live = new IAsyncDisposable?[channels];
        var locks = Enumerable.Range(0, channels).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
        using var stop = new CancellationTokenSource();
        long operations = 0;
        var unexpected = new ConcurrentQueue<Exception>();
        var workers = Enumerable.Range(0, 3).Select(seed => Task.Run(async () =>
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                int c = random.Next(channels);
                await locks[c].WaitAsync().ConfigureAwait(false);
                try
                {
                    if (live[c] is { } subscription)
                    {
                        live[c] = null;
                        await subscription.DisposeAsync().ConfigureAwait(false);
                    }
                    else
                    {
                        live[c] = await client.SubscribeAsync("ch" + c, _ => ValueTask.CompletedTask).ConfigureAwait(false);
                    }
                    Interlocked.Increment(ref operations);
                }
                catch (RedisConnectionException)
                {
                    await Task.Yield(); // down or reset meanwhile: the subscription was not made
                }
                catch (Exception e)
                {
                    unexpected.Enqueue(e);
                    return;
                }
                finally
                {
                    locks[c].Release();
                }
            }
        })).ToArray();

        for (int round = 0; round < 3; round++)
        {
            long before = Interlocked.Read(ref operations);
            await WaitUntil(() => Interlocked.Read(ref operations) > before + 100);
            var reconnected = Waits.Next(h => client.Reconnected += h);
            _redis.Kill();
            _redis.Start();
            await reconnected.Within();
        }
        long last = Interlocked.Read(ref operations);
        await WaitUntil(() => Interlocked.Read(ref operations) > last + 100);
        stop.Cancel();
        await Task.WhenAll(workers).Within();
        Assert.Empty(unexpected);

        // One more SUBSCRIBE round trip on the subscriber connection: anything sent before it has been processed.
        await using var barrier = await client.SubscribeAsync("barrier", _ => ValueTask.CompletedTask).Within();
        for (int c = 0; c < channels; c++)
        {
            long receivers = await client.PublishAsync("ch" + c, "x"u8.ToArray()).Within();
            Assert.True(receivers == (live[c] is null ? 0 : 1), $"channel {c}: {receivers} receivers, live={live[c] is not null}");
        }
        foreach (var subscription in live) if (subscription is not null) await subscription.DisposeAsync();
    }

    [Fact]
    public async Task A_handler_far_behind_gets_its_connection_reset_and_never_sees_messages_out_of_order()
    {
        await using var client = new RedisClient(Options(commandTimeout: TimeSpan.FromSeconds(3)));
        await client.ConnectAsync().Within();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new List<long>();
        var gotLast = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var subscription = await client.SubscribeAsync("flood", async m =>
        {
            await release.Task;
            long value = long.Parse(Encoding.UTF8.GetString(m.Span), System.Globalization.CultureInfo.InvariantCulture);
            received.Add(value);
            if (value == long.MaxValue) gotLast.TrySetResult();
        }).Within();
        var reconnected = Waits.Next(h => client.Reconnected += h);

        // More than the subscription's queue holds while the handler is stuck: the read loop stops reading, the
        // idle PING behind the messages goes unanswered, and the subscriber connection is reset.
        int count = Internal.Subscription.QueueCapacity + 10_000;
        for (int batch = 0; batch < count; batch += 5000)
        {
            // In batches, so no PUBLISH waits long enough to trip the command connection's own timeout on a busy machine.
            var publishes = Enumerable.Range(batch, Math.Min(5000, count - batch))
                .Select(i => client.PublishAsync("flood", Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture))))
                .ToArray();
            Assert.All(await Task.WhenAll(publishes).Within(), receivers => Assert.Equal(1, receivers));
        }
        await reconnected.Within();

        release.TrySetResult();
        Assert.Equal(1, await client.PublishAsync("flood", Encoding.UTF8.GetBytes(long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture))).Within());
        await gotLast.Task.Within();
        // What the queue held is delivered, the rest was lost with the connection, nothing out of order.
        Assert.True(received.Count > Internal.Subscription.QueueCapacity, $"{received.Count} delivered");
        Assert.True(received.Count < count, $"{received.Count} delivered");
        Assert.True(received.Zip(received.Skip(1)).All(p => p.First < p.Second), "out of order");
        Assert.Equal(Enumerable.Range(0, received.Count - 1).Select(i => (long)i), received.Take(received.Count - 1));
    }

    [Fact]
    public async Task Connect_to_a_port_nobody_listens_on_throws_RedisConnectionException()
    {
        _redis.Kill();
        await using var client = new RedisClient(Options());
        await Assert.ThrowsAsync<RedisConnectionException>(() => client.ConnectAsync().Within());
        Assert.False(client.IsConnected);
        // ConnectAsync may be tried again once Redis is there.
        _redis.Start();
        await client.ConnectAsync().Within();
        Assert.Equal("PONG", (await client.ExecuteAsync("PING").Within()).AsString());
    }

    [Fact]
    public async Task Connect_to_a_frozen_redis_throws_RedisConnectionException_after_ConnectTimeout()
    {
        _redis.Pause();
        try
        {
            var options = Options();
            options.ConnectTimeout = TimeSpan.FromMilliseconds(500);
            await using var client = new RedisClient(options);
            var error = await Assert.ThrowsAsync<RedisConnectionException>(() => client.ConnectAsync().Within());
            Assert.Contains("no answer", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            _redis.Resume();
        }
    }

    [Fact]
    public async Task Scripts_survive_a_redis_restart_that_forgot_them()
    {
        await using var client = new RedisClient(Options());
        await client.ConnectAsync().Within();
        var script = new RedisScript("return redis.call('INCR', KEYS[1])");
        Assert.Equal(1, (await client.EvalAsync(script, ["n"], []).Within()).AsInt64());
        Assert.Equal(1, (await client.ExecuteAsync("SCRIPT", "EXISTS", script.Sha1Hex).Within()).Items[0].AsInt64());

        var reconnected = Waits.Next(h => client.Reconnected += h);
        _redis.Kill();
        _redis.Start();
        await reconnected.Within();
        Assert.Equal(0, (await client.ExecuteAsync("SCRIPT", "EXISTS", script.Sha1Hex).Within()).Items[0].AsInt64());
        Assert.Equal(1, (await client.EvalAsync(script, ["n"], []).Within()).AsInt64());
        Assert.Equal(2, (await client.EvalAsync(script, ["n"], []).Within()).AsInt64());
        // The same while down: fails fast like any command; so do transactions.
        _redis.Kill();
        await WaitUntil(() => !client.IsConnected);
        await Assert.ThrowsAsync<RedisConnectionException>(() => client.EvalAsync(script, ["n"], []));
        await Assert.ThrowsAsync<RedisConnectionException>(() => client.TransactionAsync(("INCR", ["n"])));
    }

    [Fact]
    public async Task Event_handlers_that_throw_do_not_stop_reconnecting()
    {
        await using var client = new RedisClient(Options());
        await client.ConnectAsync().Within();
        client.Disconnected += () => throw new InvalidOperationException("bug in a Disconnected handler");
        var reconnected = Waits.Next(h => client.Reconnected += h);
        _redis.Kill();
        _redis.Start();
        await reconnected.Within();
        Assert.Equal("PONG", (await client.ExecuteAsync("PING").Within()).AsString());
    }

    [Fact]
    public async Task A_client_killed_by_redis_reconnects_on_its_own()
    {
        var options = Options();
        options.ClientName = "victim";
        await using var client = new RedisClient(options);
        await client.ConnectAsync().Within();
        var reconnected = Waits.Next(h => client.Reconnected += h);
        // CLIENT KILL of both connections: Redis closes them, as on a timeout or an operator's action.
        Assert.Contains("2", _redis.Cli("CLIENT", "KILL", "USER", "default"), StringComparison.Ordinal);
        await reconnected.Within();
        Assert.Equal("victim", (await client.ExecuteAsync("CLIENT", "GETNAME").Within()).AsString());
    }
}

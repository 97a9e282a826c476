using System.Collections.Concurrent;
using System.Text;
using Tendril.Tests.Support;

namespace Tendril.Redis.Tests;

/// <summary>Commands, transactions, scripts and pub/sub against one real redis-server shared by the class.</summary>
public sealed class RedisClientTests : IClassFixture<RedisServer>, IAsyncLifetime
{
    private readonly RedisServer _redis;
    private RedisClient _client = null!;

    public RedisClientTests(RedisServer redis) => _redis = redis;

    public async Task InitializeAsync()
    {
        _client = new RedisClient(new RedisClientOptions { EndPoint = _redis.EndPoint, ClientName = "tendril-tests" });
        await _client.ConnectAsync().Within();
    }

    public async Task DisposeAsync() => await _client.DisposeAsync();

    private static string Key(string name) => name + ":" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task Every_reply_type_arrives_as_its_kind()
    {
        string key = Key("types"), list = Key("list");
        var ok = await _client.ExecuteAsync("SET", key, "value").Within();
        Assert.Equal((RedisResultKind.SimpleString, "OK"), (ok.Kind, ok.AsString()));

        var bulk = await _client.ExecuteAsync("GET", key).Within();
        Assert.Equal((RedisResultKind.BulkString, "value", false), (bulk.Kind, bulk.AsString(), bulk.IsNull));

        var missing = await _client.ExecuteAsync("GET", Key("missing")).Within();
        Assert.Equal((RedisResultKind.BulkString, true), (missing.Kind, missing.IsNull));
        Assert.Null(missing.AsString());

        var integer = await _client.ExecuteAsync("INCRBY", Key("n"), 41).Within();
        Assert.Equal((RedisResultKind.Integer, 41L), (integer.Kind, integer.AsInt64()));

        await _client.ExecuteAsync("RPUSH", list, "a", "b", "c").Within();
        var array = await _client.ExecuteAsync("LRANGE", list, 0, -1).Within();
        Assert.Equal(RedisResultKind.Array, array.Kind);
        Assert.Equal(["a", "b", "c"], array.Items.Select(i => i.AsString()));

        var empty = await _client.ExecuteAsync("LRANGE", Key("nolist"), 0, -1).Within();
        Assert.Equal((RedisResultKind.Array, false, 0), (empty.Kind, empty.IsNull, empty.Items.Count));

        // RESP2 null array: BLPOP timing out.
        var nullArray = await _client.ExecuteAsync("BLPOP", Key("nolist"), "0.01").Within();
        Assert.Equal((RedisResultKind.Array, true), (nullArray.Kind, nullArray.IsNull));

        var mixed = await _client.ExecuteAsync("MGET", key, Key("missing")).Within();
        Assert.Equal("value", mixed.Items[0].AsString());
        Assert.True(mixed.Items[1].IsNull);

        var nested = await _client.ExecuteAsync("EVAL", "return {1, {2, 'x', {}}, 'y'}", 0).Within();
        Assert.Equal(1, nested.Items[0].AsInt64());
        Assert.Equal(2, nested.Items[1].Items[0].AsInt64());
        Assert.Equal("x", nested.Items[1].Items[1].AsString());
        Assert.Empty(nested.Items[1].Items[2].Items);
        Assert.Equal("y", nested.Items[2].AsString());

        var error = await Assert.ThrowsAsync<RedisServerException>(() => _client.ExecuteAsync("NOSUCHCOMMAND", "x").Within());
        Assert.StartsWith("ERR unknown command", error.Message, StringComparison.Ordinal);
        var wrongType = await Assert.ThrowsAsync<RedisServerException>(() => _client.ExecuteAsync("INCR", list).Within());
        Assert.StartsWith("WRONGTYPE", wrongType.Message, StringComparison.Ordinal);

        // The connection is fine after error replies.
        Assert.Equal("PONG", (await _client.ExecuteAsync("PING").Within()).AsString());
    }

    [Fact]
    public async Task Binary_and_large_values_round_trip()
    {
        string key = Key("bin");
        var binary = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        await _client.ExecuteAsync("SET", key, binary).Within();
        Assert.Equal(binary, (await _client.ExecuteAsync("GET", key).Within()).AsBytes().ToArray());

        var large = new byte[8 * 1024 * 1024 + 3];
        new Random(11).NextBytes(large);
        await _client.ExecuteAsync("SET", key, large).Within();
        Assert.Equal(large.Length, (await _client.ExecuteAsync("STRLEN", key).Within()).AsInt64());
        Assert.Equal(large, (await _client.ExecuteAsync("GET", key).Within()).AsBytes().ToArray());

        await _client.ExecuteAsync("SET", key, "").Within();
        var empty = await _client.ExecuteAsync("GET", key).Within();
        Assert.Equal((false, 0), (empty.IsNull, empty.AsBytes().Length));

        await _client.ExecuteAsync("SET", key, "h\u00e9llo \u2603").Within();
        Assert.Equal("h\u00e9llo \u2603", (await _client.ExecuteAsync("GET", key).Within()).AsString());
    }

    [Fact]
    public async Task Ten_thousand_concurrent_pipelined_commands_each_get_their_own_reply()
    {
        const int count = 10_000;
        string counter = Key("counter");
        // Callers on many threads at once; every reply must reach the caller whose command it answers.
        var echoes = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            var reply = await _client.ExecuteAsync("ECHO", "payload-" + i).ConfigureAwait(false);
            return (i, reply.AsString());
        })).ToArray();
        var increments = Enumerable.Range(0, count).Select(_ => _client.ExecuteAsync("INCR", counter)).ToArray();
        foreach (var (i, echoed) in await Task.WhenAll(echoes).Within()) Assert.Equal("payload-" + i, echoed);
        var values = (await Task.WhenAll(increments).Within()).Select(r => r.AsInt64()).ToArray();
        // Written in call order on one connection: INCR replies are 1..count in that order.
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), values);
    }

    [Fact]
    public async Task Concurrent_set_then_get_pairs_read_their_own_writes()
    {
        var tasks = Enumerable.Range(0, 2000).Select(i => Task.Run(async () =>
        {
            string key = Key("pair" + i);
            await _client.ExecuteAsync("SET", key, i).ConfigureAwait(false);
            return (i, (await _client.ExecuteAsync("GET", key).ConfigureAwait(false)).AsInt64());
        }));
        foreach (var (i, read) in await Task.WhenAll(tasks).Within()) Assert.Equal(i, read);
    }

    [Fact]
    public async Task Eval_uses_evalsha_and_falls_back_to_eval_after_script_flush()
    {
        var script = new RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1]) .. ':' .. ARGV[2]");
        string key = Key("script");

        var before = CommandCalls();
        Assert.Equal("5:a", (await _client.EvalAsync(script, [key], [5, "a"]).Within()).AsString());
        var first = CommandCalls();
        // Unknown to Redis at first: EVALSHA answered NOSCRIPT, then EVAL ran (and cached) it.
        Assert.Equal((1, 1), (first.EvalSha - before.EvalSha, first.Eval - before.Eval));

        Assert.Equal("12:b", (await _client.EvalAsync(script, [key], [7, "b"]).Within()).AsString());
        var second = CommandCalls();
        Assert.Equal((1, 0), (second.EvalSha - first.EvalSha, second.Eval - first.Eval));

        await _client.ExecuteAsync("SCRIPT", "FLUSH").Within();
        Assert.Equal("13:c", (await _client.EvalAsync(script, [key], [1, "c"]).Within()).AsString());
        var third = CommandCalls();
        Assert.Equal((1, 1), (third.EvalSha - second.EvalSha, third.Eval - second.Eval));

        var failing = new RedisScript("return redis.call('INCR', KEYS[1])");
        await _client.ExecuteAsync("SET", key + "s", "text").Within();
        await Assert.ThrowsAsync<RedisServerException>(() => _client.EvalAsync(failing, [key + "s"], []).Within());
        var syntax = new RedisScript("this is not lua");
        await Assert.ThrowsAsync<RedisServerException>(() => _client.EvalAsync(syntax, [], []).Within());
    }

    private (long EvalSha, long Eval) CommandCalls()
    {
        string stats = _redis.Cli("INFO", "commandstats");
        return (Calls("evalsha"), Calls("eval"));

        long Calls(string command)
        {
            var line = stats.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_" + command + ":", StringComparison.Ordinal));
            if (line is null) return 0;
            int start = line.IndexOf("calls=", StringComparison.Ordinal) + 6;
            return long.Parse(line[start..line.IndexOf(',', start)], System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    [Fact]
    public async Task Transaction_runs_atomically_and_returns_exec_replies()
    {
        string key = Key("tx"), text = Key("text");
        var replies = await _client.TransactionAsync(
            ("SET", [key, 10]),
            ("INCRBY", [key, 5]),
            ("SET", [text, "x"]),
            ("INCR", [text]),          // fails at run time: an Error item, the rest still runs
            ("GET", [key])).Within();
        Assert.Equal(5, replies.Length);
        Assert.Equal("OK", replies[0].AsString());
        Assert.Equal(15, replies[1].AsInt64());
        Assert.Equal(RedisResultKind.Error, replies[3].Kind);
        Assert.Equal("15", replies[4].AsString());

        Assert.Empty(await _client.TransactionAsync().Within());
    }

    [Fact]
    public async Task Transaction_with_a_refused_command_throws_execabort_and_runs_nothing()
    {
        string key = Key("abort");
        var error = await Assert.ThrowsAsync<RedisServerException>(() => _client.TransactionAsync(
            ("SET", [key, "1"]),
            ("NOSUCHCOMMAND", [])).Within());
        Assert.StartsWith("EXECABORT", error.Message, StringComparison.Ordinal);
        Assert.True((await _client.ExecuteAsync("GET", key).Within()).IsNull);
        Assert.Equal("PONG", (await _client.ExecuteAsync("PING").Within()).AsString());
    }

    [Fact]
    public async Task Transactions_interleaved_with_other_callers_stay_atomic()
    {
        string key = Key("atomic");
        var transactions = Enumerable.Range(0, 500).Select(_ => Task.Run(() => _client.TransactionAsync(
            ("INCR", [key]),
            ("GET", [key])))).ToArray();
        var plain = Enumerable.Range(0, 500).Select(_ => Task.Run(() => _client.ExecuteAsync("INCR", key))).ToArray();
        foreach (var replies in await Task.WhenAll(transactions).Within())
            Assert.Equal(replies[0].AsInt64(), replies[1].AsInt64()); // nothing ran between INCR and GET
        await Task.WhenAll(plain).Within();
        Assert.Equal(1000, (await _client.ExecuteAsync("GET", key).Within()).AsInt64());
    }

    [Fact]
    public async Task Ten_thousand_messages_arrive_in_publication_order_one_at_a_time()
    {
        const int count = 10_000;
        string channel = Key("ordered");
        var received = new List<int>(count);
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inside = 0, overlapped = 0;
        await using var subscription = await _client.SubscribeAsync(channel, async message =>
        {
            if (Interlocked.Increment(ref inside) != 1) Interlocked.Increment(ref overlapped);
            if (received.Count % 1000 == 0) await Task.Yield(); // an asynchronous handler now and then
            received.Add(int.Parse(Encoding.UTF8.GetString(message.Span), System.Globalization.CultureInfo.InvariantCulture));
            Interlocked.Decrement(ref inside);
            if (received.Count == count) all.TrySetResult();
        }).Within();

        var publishes = new Task<long>[count];
        for (int i = 0; i < count; i++) publishes[i] = _client.PublishAsync(channel, Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.All(await Task.WhenAll(publishes).Within(), receivers => Assert.Equal(1, receivers));
        await all.Task.Within();
        Assert.Equal(Enumerable.Range(0, count), received);
        Assert.Equal(0, overlapped);
    }

    [Fact]
    public async Task Two_subscriptions_to_one_channel_both_receive_and_dispose_unsubscribes_the_last()
    {
        string channel = Key("shared"), other = Key("other");
        var first = new ConcurrentQueue<string>();
        var second = new ConcurrentQueue<string>();
        var gotFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gotSecond = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var a = await _client.SubscribeAsync(channel, m => { first.Enqueue(Encoding.UTF8.GetString(m.Span)); gotFirst.TrySetResult(); return ValueTask.CompletedTask; }).Within();
        var b = await _client.SubscribeAsync(channel, m => { second.Enqueue(Encoding.UTF8.GetString(m.Span)); gotSecond.TrySetResult(); return ValueTask.CompletedTask; }).Within();
        await using var unrelated = await _client.SubscribeAsync(other, _ => ValueTask.CompletedTask).Within();

        // One subscriber connection: Redis counts it once.
        Assert.Equal(1, await _client.PublishAsync(channel, "one"u8.ToArray()).Within());
        await Task.WhenAll(gotFirst.Task, gotSecond.Task).Within();
        Assert.Equal(["one"], first);
        Assert.Equal(["one"], second);

        await a.DisposeAsync();
        Assert.Equal(1, await _client.PublishAsync(channel, "two"u8.ToArray()).Within());
        await b.DisposeAsync();
        // The last subscription gone: UNSUBSCRIBE was sent and confirmed before DisposeAsync returned.
        Assert.Equal(0, await _client.PublishAsync(channel, "three"u8.ToArray()).Within());
        Assert.Equal(1, await _client.PublishAsync(other, "still"u8.ToArray()).Within());
        Assert.Equal(["one"], first);
    }

    [Fact]
    public async Task A_throwing_handler_does_not_stop_its_subscription()
    {
        string channel = Key("throws");
        var seen = new ConcurrentQueue<string>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sub = await _client.SubscribeAsync(channel, m =>
        {
            string text = Encoding.UTF8.GetString(m.Span);
            seen.Enqueue(text);
            if (text == "last") done.TrySetResult();
            if (text == "boom") throw new InvalidOperationException("handler bug");
            return ValueTask.CompletedTask;
        }).Within();
        await _client.PublishAsync(channel, "boom"u8.ToArray()).Within();
        await _client.PublishAsync(channel, "last"u8.ToArray()).Within();
        await done.Task.Within();
        Assert.Equal(["boom", "last"], seen);
    }

    [Fact]
    public async Task Database_client_name_and_unix_socket_are_honoured()
    {
        await using var client = new RedisClient(new RedisClientOptions { EndPoint = _redis.UnixSocketPath, Database = 3, ClientName = "unix-client" });
        await client.ConnectAsync().Within();
        string key = Key("db3");
        await client.ExecuteAsync("SET", key, "in-3").Within();
        Assert.True((await _client.ExecuteAsync("GET", key).Within()).IsNull); // _client is on db 0
        Assert.Equal("in-3", (await _client.ExecuteAsync("EVAL", "redis.call('SELECT', 3) return redis.call('GET', KEYS[1])", 1, key).Within()).AsString());
        Assert.Equal("unix-client", (await client.ExecuteAsync("CLIENT", "GETNAME").Within()).AsString());
        string clients = (await client.ExecuteAsync("CLIENT", "LIST").Within()).AsString()!;
        Assert.Contains("name=unix-client-sub", clients, StringComparison.Ordinal);
        Assert.Contains("name=unix-client ", clients, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dispose_fails_pending_commands_with_ObjectDisposedException_and_later_calls_too()
    {
        var client = new RedisClient(new RedisClientOptions { EndPoint = _redis.EndPoint });
        await client.ConnectAsync().Within();
        string key = Key("dispose");
        // A blocked command keeps everything behind it pending while we dispose.
        var blocked = client.ExecuteAsync("BLPOP", key, 30);
        var behind = client.ExecuteAsync("PING");
        await client.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => blocked.Within());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => behind.Within());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ExecuteAsync("PING"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.SubscribeAsync("x", _ => ValueTask.CompletedTask));
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Commands_that_would_change_the_shared_connections_mode_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _client.ExecuteAsync("subscribe", "ch"));
        await Assert.ThrowsAsync<ArgumentException>(() => _client.ExecuteAsync("HELLO", 3));
        await Assert.ThrowsAsync<ArgumentException>(() => _client.ExecuteAsync("MONITOR"));
        Assert.Equal("PONG", (await _client.ExecuteAsync("PING").Within()).AsString());
    }

    [Fact]
    public async Task Commands_before_connect_fail_with_RedisConnectionException()
    {
        await using var client = new RedisClient(new RedisClientOptions { EndPoint = _redis.EndPoint });
        await Assert.ThrowsAsync<RedisConnectionException>(() => client.ExecuteAsync("PING"));
        await Assert.ThrowsAsync<RedisConnectionException>(() => client.SubscribeAsync("x", _ => ValueTask.CompletedTask));
    }
}

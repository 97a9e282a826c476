using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tendril.Redis;

/// <summary>
/// A compact Redis client: one pipelined command connection and one subscriber connection. While either is down,
/// commands fail fast with <see cref="RedisConnectionException"/> and a background loop reconnects both with
/// exponential backoff, restores the subscriptions, then raises <see cref="Reconnected"/>.
/// </summary>
public sealed class RedisClient : IAsyncDisposable
{
    private readonly RedisClientOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _gate = new();
    private RespConnection? _commands;
    private RespConnection? _subscriber;
    private int _reconnecting;

    public RedisClient(RedisClientOptions options, ILogger<RedisClient>? logger = null)
    {
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    public bool IsConnected
    {
        get
        {
            lock (_gate) return _commands is { Closed.IsCompleted: false } && _subscriber is { Closed.IsCompleted: false };
        }
    }

    /// <summary>Raised once per lost connection.</summary>
    public event Action? Disconnected;

    /// <summary>Raised when both connections are back and the subscriptions restored.</summary>
    public event Action? Reconnected;

    public async Task ConnectAsync(CancellationToken ct = default)
    {
        await OpenAsync(ct).ConfigureAwait(false);
    }

    private async Task OpenAsync(CancellationToken ct)
    {
        var commands = await RespConnection.ConnectAsync(_options.EndPoint, _options.ConnectTimeout, ct).ConfigureAwait(false);
        RespConnection? subscriber = null;
        try
        {
            await HandshakeAsync(commands).ConfigureAwait(false);
            subscriber = await RespConnection.ConnectAsync(_options.EndPoint, _options.ConnectTimeout, ct).ConfigureAwait(false);
            await HandshakeAsync(subscriber).ConfigureAwait(false);
            subscriber.OnPush = OnPushAsync;
            var channels = _subscriptions.Keys.ToArray();
            if (channels.Length > 0) await subscriber.WriteAsync(Encode("SUBSCRIBE", [.. channels.Select(c => (RedisArg)c)])).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException)
        {
            await commands.DisposeAsync().ConfigureAwait(false);
            if (subscriber is not null) await subscriber.DisposeAsync().ConfigureAwait(false);
            throw e as RedisConnectionException ?? new RedisConnectionException(e.Message, e);
        }
        lock (_gate)
        {
            _commands = commands;
            _subscriber = subscriber;
        }
        _ = WatchAsync(commands, subscriber);
    }

    private async Task HandshakeAsync(RespConnection connection)
    {
        if (_options.Password is { Length: > 0 } password) await connection.SendAsync(Encode("AUTH", [password]), 1, _options.ConnectTimeout).ConfigureAwait(false);
        if (_options.Database != 0) await connection.SendAsync(Encode("SELECT", [_options.Database]), 1, _options.ConnectTimeout).ConfigureAwait(false);
        if (_options.ClientName is { Length: > 0 } name) await connection.SendAsync(Encode("CLIENT", ["SETNAME", name]), 1, _options.ConnectTimeout).ConfigureAwait(false);
    }

    private async Task WatchAsync(RespConnection commands, RespConnection subscriber)
    {
        await Task.WhenAny(commands.Closed, subscriber.Closed).ConfigureAwait(false);
        await commands.DisposeAsync().ConfigureAwait(false);
        await subscriber.DisposeAsync().ConfigureAwait(false);
        if (_disposed.IsCancellationRequested || Interlocked.Exchange(ref _reconnecting, 1) != 0) return;
        _logger.LogWarning("Redis connection to {EndPoint} lost; reconnecting", _options.EndPoint);
        try { Disconnected?.Invoke(); } catch (Exception e) { _logger.LogError(e, "Disconnected handler failed"); }
        var delay = _options.ReconnectMinDelay;
        while (!_disposed.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(delay, _disposed.Token).ConfigureAwait(false);
                await OpenAsync(_disposed.Token).ConfigureAwait(false);
                Volatile.Write(ref _reconnecting, 0);
                _logger.LogInformation("Redis connection to {EndPoint} restored", _options.EndPoint);
                try { Reconnected?.Invoke(); } catch (Exception e) { _logger.LogError(e, "Reconnected handler failed"); }
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (RedisException)
            {
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.ReconnectMaxDelay.Ticks));
            }
        }
    }

    public Task<RedisResult> ExecuteAsync(string command, params RedisArg[] args)
    {
        RespConnection? connection;
        lock (_gate) connection = _commands;
        if (connection is null || connection.Closed.IsCompleted) return Task.FromException<RedisResult>(new RedisConnectionException("Redis is not connected."));
        return connection.SendAsync(Encode(command, args), 1, _options.CommandTimeout);
    }

    public async Task<RedisResult> EvalAsync(RedisScript script, RedisArg[] keys, RedisArg[] args)
    {
        var all = new RedisArg[keys.Length + args.Length + 2];
        all[0] = script.Sha1;
        all[1] = keys.Length;
        keys.CopyTo(all, 2);
        args.CopyTo(all, 2 + keys.Length);
        try
        {
            return await ExecuteAsync("EVALSHA", all).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            all[0] = script.Lua;
            return await ExecuteAsync("EVAL", all).ConfigureAwait(false);
        }
    }

    public async Task<RedisResult[]> TransactionAsync(params (string Command, RedisArg[] Args)[] commands)
    {
        RespConnection? connection;
        lock (_gate) connection = _commands;
        if (connection is null || connection.Closed.IsCompleted) throw new RedisConnectionException("Redis is not connected.");
        var buffer = new ArrayBufferWriter<byte>();
        RespConnection.Encode(buffer, "MULTI", []);
        foreach (var (c, a) in commands) RespConnection.Encode(buffer, c, a);
        RespConnection.Encode(buffer, "EXEC", []);
        var exec = await connection.SendAsync(buffer.WrittenMemory, commands.Length + 2, _options.CommandTimeout).ConfigureAwait(false);
        if (exec.IsNull) throw new RedisServerException("EXECABORT transaction aborted");
        return [.. exec.Items];
    }

    public async Task<long> PublishAsync(string channel, ReadOnlyMemory<byte> message) =>
        (await ExecuteAsync("PUBLISH", channel, message).ConfigureAwait(false)).AsInt64();

    public async Task<IAsyncDisposable> SubscribeAsync(string channel, Func<ReadOnlyMemory<byte>, ValueTask> handler, CancellationToken ct = default)
    {
        var subscription = new Subscription(this, channel, handler);
        if (!_subscriptions.TryAdd(channel, subscription)) throw new InvalidOperationException($"Already subscribed to {channel}.");
        RespConnection? connection;
        lock (_gate) connection = _subscriber;
        if (connection is not null && !connection.Closed.IsCompleted)
        {
            try
            {
                await connection.WriteAsync(Encode("SUBSCRIBE", [channel])).ConfigureAwait(false);
                // Returns once Redis confirmed: a message published after this call is heard.
                await subscription.Confirmed.Task.WaitAsync(_options.CommandTimeout, ct).ConfigureAwait(false);
            }
            catch (RedisConnectionException)
            {
                // Restored by the reconnect loop.
            }
            catch (TimeoutException)
            {
                throw new RedisTimeoutException($"Redis did not confirm the subscription to {channel}.");
            }
        }
        return subscription;
    }

    private async ValueTask OnPushAsync(RedisResult push)
    {
        var items = push.Items;
        if (items.Count >= 2 && items[0].AsString() == "subscribe" && items[1].AsString() is { } subscribed && _subscriptions.TryGetValue(subscribed, out var confirmed))
        {
            confirmed.Confirmed.TrySetResult();
            return;
        }
        if (items.Count < 3 || items[0].AsString() != "message") return;
        var channel = items[1].AsString();
        if (channel is null || !_subscriptions.TryGetValue(channel, out var subscription)) return;
        try
        {
            await subscription.Handler(items[2].AsBytes()).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger.LogError(e, "Handler for Redis channel {Channel} failed", channel);
        }
    }

    private static ReadOnlyMemory<byte> Encode(string command, RedisArg[] args)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        RespConnection.Encode(buffer, command, args);
        return buffer.WrittenMemory;
    }

    public async ValueTask DisposeAsync()
    {
        _disposed.Cancel();
        RespConnection? c, s;
        lock (_gate)
        {
            c = _commands;
            s = _subscriber;
        }
        if (c is not null) await c.DisposeAsync().ConfigureAwait(false);
        if (s is not null) await s.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class Subscription(RedisClient client, string channel, Func<ReadOnlyMemory<byte>, ValueTask> handler) : IAsyncDisposable
    {
        public Func<ReadOnlyMemory<byte>, ValueTask> Handler { get; } = handler;

        public TaskCompletionSource Confirmed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask DisposeAsync()
        {
            if (!client._subscriptions.TryRemove(new KeyValuePair<string, Subscription>(channel, this))) return;
            RespConnection? connection;
            lock (client._gate) connection = client._subscriber;
            if (connection is null) return;
            try { await connection.WriteAsync(Encode("UNSUBSCRIBE", [channel])).ConfigureAwait(false); }
            catch (RedisConnectionException) { }
        }
    }
}

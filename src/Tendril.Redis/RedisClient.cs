using System.Collections.Frozen;
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tendril.Redis.Internal;

namespace Tendril.Redis;

/// <summary>
/// A compact RESP2 client for one Redis server: one multiplexed, pipelined command connection shared by all callers,
/// and one subscriber connection for pub/sub. Both reconnect in the background with exponential backoff and jitter;
/// while a connection is down its operations fail fast with <see cref="RedisConnectionException"/> (nothing queues).
/// Commands must be short: blocking commands (BLPOP, WAIT…) would hold up every caller behind them, and any command
/// unanswered for <see cref="RedisClientOptions.CommandTimeout"/> resets the connection.
/// </summary>
public sealed class RedisClient : IAsyncDisposable
{
    private const string CommandRole = "command";
    private const string SubscriberRole = "subscriber";

    /// <summary>
    /// Commands that change the shared connection's protocol state for every caller (pub/sub mode, RESP3, MONITOR)
    /// or close it: refused by ExecuteAsync. Pub/sub goes through SubscribeAsync's own connection.
    /// </summary>
    private static readonly FrozenSet<string> ConnectionStateCommands = new[]
    {
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
        "MONITOR", "HELLO", "RESET", "QUIT", "SYNC", "PSYNC",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>An idle connection is PINGed after this long, so a silent peer is noticed within CommandTimeout.</summary>
    private static readonly long IdlePingTicks = Stopwatch.Frequency;

    private readonly RedisClientOptions _options;
    private readonly EndPoint _endPoint;
    private readonly ILogger _logger;
    private readonly long _timeoutTicks;
    private readonly Lock _sync = new();
    private readonly Dictionary<string, Subscription[]> _subscriptions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Subscription[]>.AlternateLookup<ReadOnlySpan<char>> _subscriptionsByChars;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Func<RedisConnection, RedisResult, ValueTask> _onPush;
    private readonly Action<RedisConnection, Exception> _onClosed;
    private RedisConnection? _commands;
    private RedisConnection? _subscriber;
    private Timer? _heartbeat;
    private int _started;
    private bool _disposed;
    private bool _reconnectPending;

    public RedisClient(RedisClientOptions options, ILogger<RedisClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        // A private copy: later changes to the caller's instance do not reach live connections.
        _options = new RedisClientOptions
        {
            EndPoint = options.EndPoint,
            Password = options.Password,
            Database = options.Database,
            ConnectTimeout = options.ConnectTimeout,
            CommandTimeout = options.CommandTimeout,
            ReconnectMinDelay = options.ReconnectMinDelay,
            ReconnectMaxDelay = options.ReconnectMaxDelay,
            ClientName = options.ClientName,
        };
        _endPoint = EndPointParser.Parse(options.EndPoint);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _timeoutTicks = (long)(options.CommandTimeout.TotalSeconds * Stopwatch.Frequency);
        _subscriptionsByChars = _subscriptions.GetAlternateLookup<ReadOnlySpan<char>>();
        _onPush = OnPush;
        _onClosed = OnConnectionClosed;
    }

    /// <summary>True while both the command and the subscriber connection are up.</summary>
    public bool IsConnected => Volatile.Read(ref _commands) is not null && Volatile.Read(ref _subscriber) is not null;

    /// <summary>Raised once per lost connection (command or subscriber), before reconnecting starts.</summary>
    public event Action? Disconnected;

    /// <summary>Raised after a loss once BOTH connections are back and every live subscription is restored.</summary>
    public event Action? Reconnected;

    /// <summary>Opens both connections. Afterwards, lost connections are re-established in the background.</summary>
    /// <exception cref="RedisConnectionException">Redis is unreachable or refused the handshake within ConnectTimeout.</exception>
    public async Task ConnectAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        if (Interlocked.CompareExchange(ref _started, 1, 0) != 0) throw new InvalidOperationException("ConnectAsync was already called.");
        RedisConnection? commands = null;
        RedisConnection? subscriber = null;
        try
        {
            commands = (await OpenAsync(subscriber: false, ct).ConfigureAwait(false)).Connection;
            subscriber = (await OpenAsync(subscriber: true, ct).ConfigureAwait(false)).Connection;
            lock (_sync)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (commands.IsClosed || subscriber.IsClosed) throw new RedisConnectionException("The Redis connection closed right after it opened.");
                _commands = commands;
                _subscriber = subscriber;
                var period = TimeSpan.FromTicks(Math.Clamp(_options.CommandTimeout.Ticks / 8, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerMillisecond * 250));
                _heartbeat ??= new Timer(static state => ((RedisClient)state!).OnHeartbeat(), this, period, period);
            }
        }
        catch
        {
            var aborted = new RedisConnectionException("Connecting was abandoned.");
            commands?.Close(aborted);
            subscriber?.Close(aborted);
            Volatile.Write(ref _started, 0);
            throw;
        }
        Log.Connected(_logger, CommandRole + "+" + SubscriberRole, _options.EndPoint);
    }

    /// <summary>Sends one command on the shared connection; an error reply throws <see cref="RedisServerException"/>.</summary>
    public Task<RedisResult> ExecuteAsync(string command, params RedisArg[] args) => ExecuteAsync(command, args.AsSpan());

    /// <inheritdoc cref="ExecuteAsync(string, RedisArg[])"/>
    public Task<RedisResult> ExecuteAsync(string command, ReadOnlySpan<RedisArg> args)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        if (ConnectionStateCommands.Contains(command)) ThrowConnectionStateCommand(command);
        var connection = Volatile.Read(ref _commands);
        return connection is null ? NotConnected<RedisResult>() : connection.SendAsync(command, args);
    }

    /// <summary>EVALSHA; when Redis answers NOSCRIPT (scripts vanish on restart or SCRIPT FLUSH), EVAL with the source.</summary>
    public async Task<RedisResult> EvalAsync(RedisScript script, RedisArg[] keys, RedisArg[] args)
    {
        ArgumentNullException.ThrowIfNull(script);
        keys ??= [];
        args ??= [];
        var all = new RedisArg[2 + keys.Length + args.Length];
        all[0] = script.Sha1Hex;
        all[1] = keys.Length;
        keys.CopyTo(all, 2);
        args.CopyTo(all, 2 + keys.Length);
        var reply = await ExecuteRawAsync("EVALSHA", all).ConfigureAwait(false);
        if (reply.Kind == RedisResultKind.Error && reply.AsBytes().Span.StartsWith("NOSCRIPT"u8))
        {
            all[0] = script.Lua;
            reply = await ExecuteRawAsync("EVAL", all).ConfigureAwait(false);
        }
        if (reply.Kind == RedisResultKind.Error) throw new RedisServerException(reply.AsString() ?? "ERR");
        return reply;
    }

    /// <summary>
    /// MULTI, the commands, EXEC, written back to back on the shared connection (no other caller's command can come
    /// between them). Returns EXEC's replies; a failing command inside is an Error item, not an exception.
    /// </summary>
    /// <exception cref="RedisServerException">EXECABORT: a command was refused while queueing (nothing ran).</exception>
    public async Task<RedisResult[]> TransactionAsync(params (string Command, RedisArg[] Args)[] commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        foreach (var (command, _) in commands) ArgumentException.ThrowIfNullOrEmpty(command);
        var connection = Volatile.Read(ref _commands);
        var reply = await (connection is null ? NotConnected<RedisResult>() : connection.SendTransactionAsync(commands)).ConfigureAwait(false);
        return reply.ItemsArray;
    }

    /// <summary>PUBLISH; returns how many subscribers (connections) received it.</summary>
    public async Task<long> PublishAsync(string channel, ReadOnlyMemory<byte> message)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        var reply = await ExecuteAsync("PUBLISH", [channel, message]).ConfigureAwait(false);
        return reply.AsInt64();
    }

    /// <summary>
    /// Subscribes <paramref name="handler"/> to <paramref name="channel"/> and returns once Redis confirmed it. The
    /// handler sees messages in publication order, one at a time; subscriptions are restored after a reconnect
    /// (messages published while disconnected are lost: Redis pub/sub is at-most-once). Dispose to unsubscribe.
    /// </summary>
    public async Task<IAsyncDisposable> SubscribeAsync(string channel, Func<ReadOnlyMemory<byte>, ValueTask> handler, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(handler);
        var subscription = new Subscription(channel, handler, UnsubscribeAsync, _logger);
        Task<RedisResult>? confirmed = null;
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var connection = _subscriber ?? throw new RedisConnectionException("Not connected to Redis (the subscriber connection is reconnecting).");
            if (_subscriptions.TryGetValue(channel, out var existing))
            {
                _subscriptions[channel] = [.. existing, subscription];
            }
            else
            {
                _subscriptions[channel] = [subscription];
                // Sent under the lock, so SUBSCRIBE/UNSUBSCRIBE reach the wire in the order of the map's changes.
                confirmed = connection.SendAsync("SUBSCRIBE", [channel]);
            }
        }
        subscription.Start();
        if (confirmed is not null)
        {
            try
            {
                await confirmed.WaitAsync(ct).ConfigureAwait(false);
            }
            catch
            {
                await subscription.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        return subscription;
    }

    /// <summary>Closes both connections; pending commands fail with <see cref="ObjectDisposedException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        RedisConnection? commands, subscriber;
        List<Subscription> subscriptions = [];
        lock (_sync)
        {
            if (_disposed) return;
            _disposed = true;
            commands = _commands;
            subscriber = _subscriber;
            _commands = _subscriber = null;
            foreach (var list in _subscriptions.Values) subscriptions.AddRange(list);
            _subscriptions.Clear();
        }
        await _shutdown.CancelAsync().ConfigureAwait(false);
        Timer? heartbeat;
        lock (_sync) heartbeat = _heartbeat;
        if (heartbeat is not null) await heartbeat.DisposeAsync().ConfigureAwait(false);
        var disposed = new ObjectDisposedException(nameof(RedisClient));
        commands?.Close(disposed);
        subscriber?.Close(disposed);
        foreach (var subscription in subscriptions) subscription.Abandon();
    }

    private Task<RedisResult> ExecuteRawAsync(string command, RedisArg[] args)
    {
        var connection = Volatile.Read(ref _commands);
        return connection is null ? NotConnected<RedisResult>() : connection.SendAsync(command, args, PendingKind.RawCommand);
    }

    private Task<T> NotConnected<T>() => Volatile.Read(ref _disposed)
        ? Task.FromException<T>(new ObjectDisposedException(nameof(RedisClient)))
        : Task.FromException<T>(new RedisConnectionException(Volatile.Read(ref _started) == 0
            ? "Not connected to Redis: call ConnectAsync first."
            : "Not connected to Redis (reconnecting)."));

    /// <summary>Opens one connection and runs its handshake: AUTH, SELECT, CLIENT SETNAME, the subscriptions, PING.</summary>
    private async Task<(RedisConnection Connection, string[] Channels)> OpenAsync(bool subscriber, CancellationToken ct)
    {
        string role = subscriber ? SubscriberRole : CommandRole;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct, _shutdown.Token);
        timeout.CancelAfter(_options.ConnectTimeout);
        RedisConnection? connection = null;
        try
        {
            connection = await RedisConnection.OpenAsync(_endPoint, role, subscriber ? _onPush : null, _onClosed, timeout.Token).ConfigureAwait(false);
            var handshake = new List<Task<RedisResult>>();
            if (_options.Password is { } password)
            {
                int colon = password.IndexOf(':', StringComparison.Ordinal);
                handshake.Add(colon > 0
                    ? connection.SendAsync("AUTH", [password[..colon], password[(colon + 1)..]])
                    : connection.SendAsync("AUTH", [password]));
            }
            if (!subscriber && _options.Database != 0) handshake.Add(connection.SendAsync("SELECT", [_options.Database]));
            if (_options.ClientName is { } name) handshake.Add(connection.SendAsync("CLIENT", ["SETNAME", subscriber ? name + "-sub" : name]));
            string[] channels = [];
            if (subscriber)
            {
                lock (_sync) channels = [.. _subscriptions.Keys];
                foreach (var channel in channels) handshake.Add(connection.SendAsync("SUBSCRIBE", [channel]));
            }
            // PING proves a live Redis answers (a SIGSTOPped one still accepts TCP connections).
            handshake.Add(connection.SendAsync("PING", []));
            await Task.WhenAll(handshake).WaitAsync(timeout.Token).ConfigureAwait(false);
            return (connection, channels);
        }
        catch (Exception e)
        {
            connection?.Close(new RedisConnectionException("Handshake failed.", e));
            if (_shutdown.IsCancellationRequested) throw new ObjectDisposedException(nameof(RedisClient));
            ct.ThrowIfCancellationRequested();
            string why = e is OperationCanceledException ? $"no answer within {_options.ConnectTimeout}" : e.Message;
            throw new RedisConnectionException($"Could not connect to Redis at {_options.EndPoint} ({role} connection): {why}", e);
        }
    }

    private void OnConnectionClosed(RedisConnection connection, Exception reason)
    {
        bool subscriber;
        lock (_sync)
        {
            subscriber = ReferenceEquals(_subscriber, connection);
            if (subscriber) _subscriber = null;
            else if (ReferenceEquals(_commands, connection)) _commands = null;
            else return; // a connection that never got installed (failed handshake) or the client is disposed
            _reconnectPending = true;
        }
        Log.ConnectionLost(_logger, connection.Role, reason);
        Raise(Disconnected, nameof(Disconnected));
        _ = ReconnectAsync(subscriber);
    }

    private async Task ReconnectAsync(bool subscriber)
    {
        string role = subscriber ? SubscriberRole : CommandRole;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await Task.Delay(Backoff(attempt), _shutdown.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            RedisConnection connection;
            string[] channels;
            try
            {
                (connection, channels) = await OpenAsync(subscriber, CancellationToken.None).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (RedisConnectionException e)
            {
                Log.ReconnectFailed(_logger, role, attempt + 1, e.Message);
                continue;
            }
            if (Install(connection, subscriber, channels)) return;
            if (Volatile.Read(ref _disposed)) return;
        }
    }

    /// <summary>Makes a reconnected connection current; raises Reconnected when both are back. False when it closed meanwhile.</summary>
    private bool Install(RedisConnection connection, bool subscriber, string[] channels)
    {
        bool reconnected = false;
        int subscriptionCount;
        lock (_sync)
        {
            if (_disposed || connection.IsClosed)
            {
                connection.Close(new ObjectDisposedException(nameof(RedisClient)));
                return _disposed;
            }
            if (subscriber)
            {
                _subscriber = connection;
                // Channels whose last subscription was disposed while the handshake resubscribed them.
                foreach (var channel in channels)
                    if (!_subscriptions.ContainsKey(channel)) ObserveFault(connection.SendAsync("UNSUBSCRIBE", [channel]));
            }
            else
            {
                _commands = connection;
            }
            if (_reconnectPending && _commands is not null && _subscriber is not null)
            {
                _reconnectPending = false;
                reconnected = true;
            }
            subscriptionCount = _subscriptions.Count;
        }
        Log.Connected(_logger, connection.Role, _options.EndPoint);
        if (reconnected)
        {
            Log.Reconnected(_logger, subscriptionCount);
            Raise(Reconnected, nameof(Reconnected));
        }
        return true;
    }

    /// <summary>Exponential backoff with jitter: a random delay in [d/2, d], d = min(max, min·2^attempt).</summary>
    private TimeSpan Backoff(int attempt)
    {
        double min = _options.ReconnectMinDelay.TotalMilliseconds, max = _options.ReconnectMaxDelay.TotalMilliseconds;
        double delay = Math.Min(max, min * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds(delay / 2 + Random.Shared.NextDouble() * delay / 2);
    }

    /// <summary>One timer for both connections: fail stuck commands (closing the connection) and PING idle ones.</summary>
    private void OnHeartbeat()
    {
        long now = Stopwatch.GetTimestamp();
        CheckConnection(Volatile.Read(ref _commands), now);
        CheckConnection(Volatile.Read(ref _subscriber), now);
    }

    private void CheckConnection(RedisConnection? connection, long now)
    {
        if (connection is null) return;
        if (connection.CheckTimeout(now, _timeoutTicks))
        {
            Log.CommandTimedOut(_logger, connection.Role, _options.CommandTimeout);
            return;
        }
        if (connection.IsIdle(now, IdlePingTicks)) ObserveFault(connection.SendAsync("PING", []));
    }

    /// <summary>Subscriber connection pushes: <c>["message", channel, payload]</c> to the channel's subscriptions.</summary>
    private ValueTask OnPush(RedisConnection source, RedisResult push)
    {
        var items = push.ItemsArray;
        if (items.Length != 3) return ValueTask.CompletedTask; // pmessage: this client issues no PSUBSCRIBE
        var channelBytes = items[1].AsBytes().Span;
        Span<char> chars = channelBytes.Length <= 256 ? stackalloc char[256] : new char[channelBytes.Length];
        int length = Encoding.UTF8.GetChars(channelBytes, chars);
        Subscription[]? subscriptions;
        lock (_sync) _subscriptionsByChars.TryGetValue(chars[..length], out subscriptions);
        if (subscriptions is null) return ValueTask.CompletedTask;
        var payload = items[2].AsBytes();
        return subscriptions.Length == 1 ? subscriptions[0].EnqueueAsync(payload, source) : EnqueueAllAsync(subscriptions, payload, source);
    }

    private static async ValueTask EnqueueAllAsync(Subscription[] subscriptions, ReadOnlyMemory<byte> payload, RedisConnection source)
    {
        foreach (var subscription in subscriptions) await subscription.EnqueueAsync(payload, source).ConfigureAwait(false);
    }

    private async ValueTask UnsubscribeAsync(Subscription subscription)
    {
        Task<RedisResult>? sent = null;
        lock (_sync)
        {
            if (!_subscriptions.TryGetValue(subscription.Channel, out var list)) return;
            int index = Array.IndexOf(list, subscription);
            if (index < 0) return;
            if (list.Length > 1)
            {
                _subscriptions[subscription.Channel] = [.. list.AsSpan(0, index), .. list.AsSpan(index + 1)];
                return;
            }
            _subscriptions.Remove(subscription.Channel);
            if (_subscriber is { } connection) sent = connection.SendAsync("UNSUBSCRIBE", [subscription.Channel]);
        }
        if (sent is null) return;
        try
        {
            await sent.ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or ObjectDisposedException)
        {
            // The connection is gone, and with it the server-side subscription; a reconnect will not restore it.
        }
    }

    private void Raise(Action? handler, string name)
    {
        if (handler is null) return;
        try
        {
            handler();
        }
#pragma warning disable CA1031 // a subscriber's bug must not stop reconnecting
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.EventHandlerFailed(_logger, name, e);
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowConnectionStateCommand(string command) =>
        throw new ArgumentException($"{command} would change the shared connection's state for every caller; use SubscribeAsync for pub/sub.", nameof(command));

    private static void ObserveFault(Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}

using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Redis;
using Tendril.Server;
using Tendril.Server.Cluster;
using Tendril.Server.Configuration;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Cluster;

/// <summary>
/// The cluster over Redis (docs/cluster.md): membership with Redis-timed liveness keys, the routing table written by
/// Lua scripts, a local replica of the other nodes' sessions kept current by the events channel, and one ordered
/// outbox per destination node for stanzas. Local traffic never waits for Redis.
/// </summary>
public sealed class RedisCluster : IClusterBackend, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, NodeOutbox> _outboxes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Func<Jid, XmlElement, ValueTask>> _accountEvents = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _resyncGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private TaskCompletionSource _connected = NewConnected(completed: true);
    private XmppServer _server = null!;
    private RoutingTableStore _store = null!;
    private RemoteSessionMirror _mirror = null!;
    private volatile HashSet<string> _liveNodes = new(StringComparer.Ordinal);
    private Task _heartbeat = Task.CompletedTask;
    private volatile bool _dirty;
    private volatile bool _announcePending; // found missing from the member set: see ResyncAsync
    private int _started;
    private Serialized? _lastSerialized;
    private readonly InboundStreams _inbound = new();
    private readonly SemaphoreSlim _heartbeatGate = new(1, 1);
    private long _lastHeartbeat = Environment.TickCount64;
    private long _deadGeneration;

    public RedisCluster(ClusterOptions options, ILoggerFactory? loggerFactory = null)
    {
        Options = options;
        NodeId = options.NodeId.Length > 0 ? options.NodeId : Environment.MachineName.ToLowerInvariant().Replace('.', '-') + "-" + Guid.NewGuid().ToString("N")[..8];
        var factory = loggerFactory ?? NullLoggerFactory.Instance;
        Logger = factory.CreateLogger("Tendril.Cluster");
        Redis = new RedisClient(new RedisClientOptions
        {
            EndPoint = options.Redis,
            Password = options.RedisPassword.Length > 0 ? options.RedisPassword : null,
            ClientName = "tendril-" + NodeId,
        }, factory.CreateLogger<RedisClient>());
        Redis.Disconnected += OnDisconnected;
        Redis.Reconnected += () => _ = ResyncAsync();
    }

    public bool IsClustered => true;

    public string NodeId { get; }

    public ClusterOptions Options { get; }

    /// <summary>This process among the node's lives: acknowledgements carry it, so a sender notices the node restarted.</summary>
    internal long Incarnation { get; } = Random.Shared.NextInt64(1, long.MaxValue);

    internal ILogger Logger { get; }

    internal RedisClient Redis { get; }

    internal RemoteSessionMirror Mirror => _mirror;

    internal XmppServer Server => _server;

    internal RoutingTableStore Store => _store;

    public void Attach(XmppServer server)
    {
        _server = server;
        var keys = new ClusterKeys(server.Domain);
        _store = new RoutingTableStore(Redis, keys);
        _mirror = new RemoteSessionMirror(NodeId, GetOutbox);
    }

    // ---- lifecycle -----------------------------------------------------------------------------------------------

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) return;
        try
        {
            await Redis.ConnectAsync(cancellationToken).ConfigureAwait(false);
            await Redis.SubscribeAsync(_store.Keys.Events, OnEventAsync, cancellationToken).ConfigureAwait(false);
            await Redis.SubscribeAsync(_store.Keys.NodeChannel(NodeId), OnRecordsAsync, cancellationToken).ConfigureAwait(false);
            await HeartbeatOnceAsync().ConfigureAwait(false);
            await RebuildMirrorAsync().ConfigureAwait(false);
            // The members now (cluster-wide events go to them); a sweep that finds dead nodes purges them here.
            var sweep = await _store.SweepAsync(NodeId).ConfigureAwait(false);
            _liveNodes = new HashSet<string>(sweep.Live, StringComparer.Ordinal);
            if (sweep.Dead.Count > 0) await OnPurgedAsync(sweep).ConfigureAwait(false);
        }
        catch (Exception e) when (RedisFailure.Is(e))
        {
            throw new InvalidOperationException($"Cluster: cannot join through Redis at {Options.Redis}: {e.Message}", e);
        }
        _heartbeat = Task.Run(HeartbeatLoopAsync);
        _writer = Task.Run(WriteTableAsync);
        ClusterLog.Joined(Logger, NodeId, Options.Redis);
    }

    public async Task StopAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
        try { await _heartbeat.ConfigureAwait(false); } catch (OperationCanceledException) { }
        // What is queued for Redis and for other nodes goes out first (bounded wait), then the node leaves.
        _writes.Writer.TryComplete();
        var drain = Task.WhenAll(_outboxes.Values.Select(o => o.CompleteAsync()).Append(_writer));
        await Task.WhenAny(drain, Task.Delay(TimeSpan.FromSeconds(3))).ConfigureAwait(false);
        try
        {
            var removed = await _store.LeaveAsync(NodeId).ConfigureAwait(false);
            ClusterLog.Left(Logger, NodeId, removed);
        }
        catch (Exception e) when (RedisFailure.Is(e))
        {
            ClusterLog.RedisFailed(Logger, "leave", e.Message);
        }
        await Redis.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private static TaskCompletionSource NewConnected(bool completed)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed) tcs.SetResult();
        return tcs;
    }

    /// <summary>Completes when Redis is reachable and this node re-announced itself (immediately when it is).</summary>
    internal Task WhenConnectedAsync()
    {
        lock (_gate) return _connected.Task.WaitAsync(_stopping.Token);
    }

    private void OnDisconnected()
    {
        lock (_gate)
        {
            if (_connected.Task.IsCompleted) _connected = NewConnected(completed: false);
        }
        _dirty = true;
        ClusterLog.RedisDown(Logger);
    }

    /// <summary>
    /// After a reconnect (or when the node finds itself missing from the member set): re-announce, re-publish every
    /// local session (Redis may have lost them, or a survivor purged them), rebuild the replica (events were missed),
    /// then let the outboxes flush.
    /// </summary>
    private async Task ResyncAsync()
    {        await _resyncGate.WaitAsync().ConfigureAwait(false);
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                try
                {
                    _dirty = false;
                    if (await HeartbeatOnceAsync().ConfigureAwait(false) != Membership.Member) _announcePending = true;
                    await _store.EnsureSequenceAsync(_mirror.MaxVersion + 1).ConfigureAwait(false);
                    var count = 0;
                    var local = new HashSet<Jid>();
                    foreach (var session in _server.Sessions.All())
                    {
                        if (session.IsClosed) continue;
                        local.Add(session.Jid);
                        var outcome = await _store.WriteAsync(NodeId, session.Jid, SessionRecord.Of(NodeId, session), "republish").ConfigureAwait(false);
                        if (outcome == "!lost") await _server.ReplaceSessionAsync(session.Jid).ConfigureAwait(false);
                        count++;
                    }
                    // Sessions that ended while Redis was unreachable: their unbind never reached it.
                    foreach (var jid in await _store.NodeSessionsAsync(NodeId).ConfigureAwait(false))
                    {
                        if (!local.Contains(jid)) await _store.RemoveAsync(NodeId, jid).ConfigureAwait(false);
                    }
                    // Events were missed: take a snapshot. Entries it lacks stay until the other nodes had time to
                    // re-publish theirs too (a node that is reconnecting a moment later must not look gone meanwhile).
                    await RebuildMirrorAsync(removeStale: false).ConfigureAwait(false);
                    _ = CleanupLaterAsync();
                    ClusterLog.Resynced(Logger, count, _mirror.AccountCount);
                    lock (_gate) _connected.TrySetResult();
                    // Re-joined: the others gave up on this node's channel (records for it were handed back, events
                    // dropped), and if it was purged alive, they told every contact its sessions were gone. (Redis that
                    // lost its state purged nobody; announcing again then only repeats what the contacts know.) A mere
                    // reconnect loses nothing: records wait in the senders' outboxes until this node listens again.
                    if (_announcePending)
                    {
                        _announcePending = false;
                        RaiseEventsMissed();
                        await AnnounceAgainAsync(local).ConfigureAwait(false);
                    }
                    return;
                }
                catch (Exception e) when (RedisFailure.Is(e))
                {
                    ClusterLog.RedisFailed(Logger, "resync", e.Message);
                    if (!Redis.IsConnected) return; // the next Reconnected runs it again
                    await Task.Delay(Options.HeartbeatIntervalMs, _stopping.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _resyncGate.Release();
        }
    }

    public event Action? EventsMissed;

    private async Task AnnounceAgainAsync(HashSet<Jid> republished)
    {
        foreach (var session in _server.Sessions.All())
        {
            if (!republished.Contains(session.Jid)) continue;
            try
            {
                await _server.AnnounceAgainAsync(session).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                ClusterLog.RejoinStepFailed(Logger, "announcing " + session.JidString, e);
            }
        }
    }

    private void RaiseEventsMissed()
    {
        try
        {
            EventsMissed?.Invoke();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            ClusterLog.RejoinStepFailed(Logger, "dropping cached copies", e);
        }
    }

    private async Task CleanupLaterAsync()
    {
        try
        {
            await Task.Delay(2 * Options.NodeTimeoutMs, _stopping.Token).ConfigureAwait(false);
            await RebuildMirrorAsync(removeStale: true).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (RedisFailure.Is(e))
        {
            ClusterLog.RedisFailed(Logger, "cleanup", e.Message);
        }
    }

    private async Task RebuildMirrorAsync(bool removeStale = true)
    {
        var (start, accounts) = await _store.SnapshotAsync().ConfigureAwait(false);
        var seen = new HashSet<Jid>(BareJidComparer.Instance);
        foreach (var (bare, version, flat) in accounts)
        {
            seen.Add(bare);
            _mirror.Apply(bare, version, flat);
        }
        if (!removeStale) return;
        _mirror.RemoveStale(seen, start);
        _mirror.Compact(start);
    }

    /// <summary>Found missing from the member set (declared dead, or Redis lost its data): announce again.</summary>
    private void Rejoin()
    {
        ClusterLog.Rejoined(Logger);
        _announcePending = true; // kept until a resync completes (one that fails half-way runs again)
        _ = ResyncAsync();
    }

    /// <summary>
    /// Renews the liveness key (one at a time: whichever call sees "declared dead" counts it, once). A node that learns
    /// it was declared dead moves to the next generation: the other nodes handed back what it had not confirmed, so what
    /// still reaches it of their older streams is no longer its to deliver (<see cref="InboundStreams"/>).
    /// </summary>
    private async Task<Membership> HeartbeatOnceAsync()
    {
        await _heartbeatGate.WaitAsync(_stopping.Token).ConfigureAwait(false);
        try
        {
            var started = Environment.TickCount64;
            var membership = await _store.HeartbeatAsync(NodeId, Options.NodeTimeoutMs).ConfigureAwait(false);
            Volatile.Write(ref _lastHeartbeat, started);
            if (membership == Membership.DeclaredDead) Interlocked.Increment(ref _deadGeneration);
            return membership;
        }
        finally
        {
            _heartbeatGate.Release();
        }
    }

    /// <summary>
    /// Before handling another node's batch: when this node has not renewed its liveness key for nearly the node
    /// timeout (it was frozen, or cut off), it may have been declared dead meanwhile, and the batch handed back by its
    /// sender — a heartbeat now tells (and after a purge, the batch is not handled: its stanzas went elsewhere).
    /// </summary>
    private async ValueTask<long> GenerationNowAsync()
    {
        if (Environment.TickCount64 - Volatile.Read(ref _lastHeartbeat) > Options.NodeTimeoutMs - Options.HeartbeatIntervalMs)
        {
            try
            {
                if (await HeartbeatOnceAsync().ConfigureAwait(false) != Membership.Member) Rejoin();
            }
            catch (Exception e) when (RedisFailure.Is(e) || e is OperationCanceledException)
            {
                ClusterLog.RedisFailed(Logger, "heartbeat", e.Message);
            }
        }
        return Volatile.Read(ref _deadGeneration);
    }

    private async Task HeartbeatLoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Options.HeartbeatIntervalMs));
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try
                {
                    var membership = await HeartbeatOnceAsync().ConfigureAwait(false);
                    if (membership != Membership.Member) Rejoin();
                    else if (_dirty) _ = ResyncAsync();
                    var sweep = await _store.SweepAsync(NodeId).ConfigureAwait(false);
                    _liveNodes = new HashSet<string>(sweep.Live, StringComparer.Ordinal);
                    if (sweep.Dead.Count > 0) await OnPurgedAsync(sweep).ConfigureAwait(false);
                }
                catch (Exception e) when (RedisFailure.Is(e))
                {
                    ClusterLog.RedisFailed(Logger, "heartbeat", e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// This node won the claim on dead nodes: their sessions are gone from the table (and, through the events, from
    /// every replica); their contacts learn they are unavailable from here, once.
    /// </summary>
    private async Task OnPurgedAsync(SweepResult sweep)
    {
        foreach (var dead in sweep.Dead)
        {
            var count = 0;
            foreach (var p in sweep.Purged) if (p.Node == dead) count++;
            ClusterLog.Purged(Logger, dead, count);
            // Before anyone hears the dead node's users are gone, no replica may still route to them: this node's own
            // at once, the others' by a record on their channel that precedes the unavailable presences below.
            _mirror.RemoveNode(dead);
            if (_outboxes.TryGetValue(dead, out var outbox)) outbox.NodeDead();
            foreach (var node in _liveNodes)
            {
                if (node != NodeId && node != dead) GetOutbox(node).TryEnqueue(new OutboxItem(RecordKind.NodeGone, RecordFlags.None, dead, default, null));
            }
        }
        foreach (var (_, jid, record) in sweep.Purged)
        {
            try
            {
                if (record.Available) await _server.ResourceGoneAsync(jid).ConfigureAwait(false);
                // RFC 6121 §4.6.3: whoever got directed presence from the session learns it is gone too.
                foreach (var to in record.DirectedJids())
                {
                    var presence = new XmlElement("presence", Ns.Client).SetAttribute("type", "unavailable")
                        .SetAttribute("from", jid.ToString()).SetAttribute("to", to.ToString());
                    await _server.Router.RouteAsync(presence, jid, to).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                ClusterLog.ReceiveFailed(Logger, e);
            }
        }
    }

    /// <summary>Whether the node's liveness key exists (false too when Redis cannot answer: the caller retries later).</summary>
    internal async Task<bool> IsAliveAsync(string node)
    {
        try
        {
            return (await Redis.ExecuteAsync("EXISTS", _store.Keys.Alive(node)).ConfigureAwait(false)).AsInt64() == 1;
        }
        catch (Exception e) when (RedisFailure.Is(e))
        {
            return true;
        }
    }

    /// <summary>The members seen alive by the last sweep (diagnostics).</summary>
    internal IReadOnlySet<string> LiveNodes => _liveNodes;

    // ---- routing table writes ------------------------------------------------------------------------------------

    /// <summary>One routing-table change, snapshotted when the core reported it.</summary>
    private readonly record struct TableWrite(string Mode, Jid Jid, string JidString, SessionRecord Record, TaskCompletionSource? Done);

    private readonly System.Threading.Channels.Channel<TableWrite> _writes =
        System.Threading.Channels.Channel.CreateBounded<TableWrite>(new System.Threading.Channels.BoundedChannelOptions(100_000) { SingleReader = true });
    private Task _writer = Task.CompletedTask;

    // A bind, presence change or unbind is queued (in order) and written by one pump. Bind and presence wait for their
    // write at most MaxTableWait — long enough that, normally, the other nodes know the session before its client goes
    // on (a contact logging in a moment later sees it), short enough that a frozen Redis barely slows a login; the write
    // still happens, in order, later. Unbinds never wait. A full queue (Redis away for long) drops the write and marks
    // the node dirty: the resync after the reconnect re-publishes everything.
    private static readonly TimeSpan MaxTableWait = TimeSpan.FromSeconds(1);

    public ValueTask SessionBoundAsync(C2sSession session) => Queue("bind", session, wait: true);

    public ValueTask SessionChangedAsync(C2sSession session) => Queue("update", session, wait: true);

    public void DirectedPresenceChanged(C2sSession session)
    {
        if (!session.IsClosed) _ = Queue("update", session, wait: false);
    }

    public ValueTask SessionUnboundAsync(C2sSession session) => Queue("remove", session, wait: false);

    private ValueTask Queue(string mode, C2sSession session, bool wait)
    {
        var record = mode == "remove" ? default : SessionRecord.Of(NodeId, session);
        var done = wait ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        if (!_writes.Writer.TryWrite(new TableWrite(mode, session.Jid, session.JidString, record, done)))
        {
            _dirty = true;
            return ValueTask.CompletedTask;
        }
        return done is null ? ValueTask.CompletedTask : WaitBoundedAsync(done.Task);
    }

    private static async ValueTask WaitBoundedAsync(Task done)
    {
        try
        {
            await done.WaitAsync(MaxTableWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private async Task ReplaceLocalAsync(Jid jid)
    {
        try
        {
            await _server.ReplaceSessionAsync(jid).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            ClusterLog.ReceiveFailed(Logger, e);
        }
    }

    private async Task WriteTableAsync()
    {
        var reader = _writes.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var write))
            {
                try
                {
                    if (write.Mode == "remove")
                    {
                        await _store.RemoveAsync(NodeId, write.Jid).ConfigureAwait(false);
                        continue;
                    }
                    var outcome = await _store.WriteAsync(NodeId, write.Jid, write.Record, write.Mode).ConfigureAwait(false);
                    if (outcome == "!lost")
                    {
                        // Bound again on another node meanwhile: the newer binding wins (RFC 6120 §7.7.2.2). Not awaited
                        // here: closing the session must not hold up the table writes behind it.
                        _ = ReplaceLocalAsync(write.Jid);
                    }
                    else if (outcome is not null && write.Mode == "bind")
                    {
                        // The older binding on the other node is closed there with <conflict/>.
                        ClusterLog.ReplacedRemote(Logger, write.JidString, outcome);
                        GetOutbox(outcome).TryEnqueue(new OutboxItem(RecordKind.Replace, RecordFlags.None, write.JidString, default, null));
                    }
                }
                catch (Exception e) when (RedisFailure.Is(e))
                {
                    MarkDirty(write.Mode, e);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    ClusterLog.ReceiveFailed(Logger, e);
                }
                finally
                {
                    write.Done?.TrySetResult();
                }
            }
        }
    }

    /// <summary>
    /// The write did not reach Redis: the local session is fine; the whole local table is re-published once Redis
    /// answers (an unbind that was lost is corrected by the republish's replica rebuild on the other nodes... and by
    /// the stale-entry check on receipt: a stanza for a gone session is re-routed as undeliverable).
    /// </summary>
    private void MarkDirty(string operation, Exception e)
    {
        _dirty = true;
        ClusterLog.RedisFailed(Logger, operation, e.Message);
    }

    // ---- lookups (replica) ---------------------------------------------------------------------------------------

    public RemoteSession[] FindAll(Jid jid) => _mirror.FindAll(jid);

    public RemoteSession? Find(Jid fullJid) => _mirror.Find(fullJid);

    public async ValueTask<RemoteSession[]> RefreshAsync(Jid account)
    {
        try
        {
            var (version, flat) = await _store.ReadAccountAsync(account).ConfigureAwait(false);
            if (version > 0) _mirror.Apply(account.Bare, version, flat); // an older state than the replica's is refused there
        }
        catch (Exception e) when (RedisFailure.Is(e))
        {
            ClusterLog.RedisFailed(Logger, "refresh", e.Message);
        }
        return _mirror.FindAll(account);
    }

    // ---- delivery ------------------------------------------------------------------------------------------------

    private NodeOutbox GetOutbox(string node) =>
        _outboxes.GetOrAdd(node, static (n, self) => new NodeOutbox(self, n, self._store.Keys.NodeChannel(n), self.Options.OutboxStanzas), this);

    public bool TryDeliver(RemoteSession target, XmlElement stanza, bool addressToTarget = false)
    {
        if (_stopping.IsCancellationRequested) return false;
        var outbox = target.Route as NodeOutbox ?? GetOutbox(target.NodeId);
        return outbox.TryEnqueue(new OutboxItem(RecordKind.Deliver, addressToTarget ? RecordFlags.AddressToTarget : RecordFlags.None, target.JidString, Serialize(stanza), stanza));
    }

    /// <summary>One serialization per stanza however many remote sessions get it (fan-out calls come one after another).</summary>
    private byte[] Serialize(XmlElement stanza)
    {
        var last = Volatile.Read(ref _lastSerialized);
        if (last is not null && ReferenceEquals(last.Element, stanza)) return last.Bytes;
        var buffer = new ArrayBufferWriter<byte>(512);
        XmlWriter.Write(buffer, stanza);
        var bytes = buffer.WrittenSpan.ToArray();
        Volatile.Write(ref _lastSerialized, new Serialized(stanza, bytes));
        return bytes;
    }

    /// <summary>One immutable pair, swapped whole (a struct of two references could be read torn by another thread).</summary>
    private sealed record Serialized(XmlElement Element, byte[] Bytes);

    public void SendAccountEvent(Jid account, string name, XmlElement payload)
    {
        var sessions = _mirror.FindAll(account);
        if (sessions.Length == 0) return;
        byte[]? bytes = null;
        string? lastNode = null;
        foreach (var s in sessions)
        {
            if (s.NodeId == lastNode) continue;
            lastNode = s.NodeId;
            bytes ??= EncodeEvent(name, payload);
            (s.Route as NodeOutbox ?? GetOutbox(s.NodeId)).TryEnqueue(new OutboxItem(RecordKind.AccountEvent, RecordFlags.None, account.Bare.ToString(), bytes, null));
        }
    }

    private static byte[] EncodeEvent(string name, XmlElement payload)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write(Encoding.UTF8.GetBytes(name));
        buffer.Write<byte>([0]);
        XmlWriter.Write(buffer, payload);
        return buffer.WrittenSpan.ToArray();
    }

    public void OnAccountEvent(string name, Func<Jid, XmlElement, ValueTask> handler) => _accountEvents[name] = handler;

    public void SendClusterEvent(string name, XmlElement payload)
    {
        byte[]? bytes = null;
        foreach (var node in _liveNodes)
        {
            if (node == NodeId) continue;
            bytes ??= EncodeEvent(name, payload);
            GetOutbox(node).TryEnqueue(new OutboxItem(RecordKind.AccountEvent, RecordFlags.None, _server.Domain, bytes, null));
        }
    }

    /// <summary>
    /// Records a node may not have handled come back — it is dead, or restarted — and their stanzas are routed here as
    /// undeliverable: to the account's sessions on the live nodes (the user may have logged in elsewhere meanwhile), else
    /// offline storage or a bounce (RFC 6121 §8.5.3.2).
    /// </summary>
    internal async Task GiveBackAsync(string node, List<OutboxItem> batch, bool nodeDead)
    {
        var stanzas = 0;
        foreach (var item in batch) if (item.Kind == RecordKind.Deliver) stanzas++;
        if (nodeDead)
        {
            // Dead (Redis says so): nothing may route to it again.
            _mirror.RemoveNode(node);
            if (batch.Count > 0) ClusterLog.GaveBack(Logger, node, stanzas);
        }
        else if (stanzas > 0) ClusterLog.GaveBackRestarted(Logger, node, stanzas);
        foreach (var item in batch)
        {
            if (item.Kind != RecordKind.Deliver || item.Stanza is null || !Jid.TryParse(item.Target, out var target)) continue;
            try
            {
                await _server.Router.RerouteUndeliveredAsync(item.Stanza, target, includeRemote: true).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                ClusterLog.ReceiveFailed(Logger, e);
            }
        }
    }

    // ---- receiving -----------------------------------------------------------------------------------------------

    private ValueTask OnEventAsync(ReadOnlyMemory<byte> message)
    {
        _mirror.ApplyEvent(message.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Records for this node's sessions, handled in the order they were published.</summary>
    private async ValueTask OnRecordsAsync(ReadOnlyMemory<byte> frame)
    {
        // The frame's header: the sender's stream and the batch's sequence number (0: only acknowledgements, not sequenced).
        string? sender = null;
        long stream = 0, sequence = 0;
        var rest = frame;
        if (ClusterFrame.TryRead(ref rest, out var first, out _, out var from, out var header) && first == RecordKind.Batch && header.Length >= 16)
        {
            frame = rest;
            sender = from;
            stream = BinaryPrimitives.ReadInt64BigEndian(header.Span);
            sequence = BinaryPrimitives.ReadInt64BigEndian(header.Span[8..]);
            if (sequence > 0 && !_inbound.ShouldHandle(sender, stream, sequence, await GenerationNowAsync().ConfigureAwait(false), out var again))
            {
                // Handled already (published again after a reconnect or a late acknowledgement), or after a gap: the
                // sender publishes again from its oldest unacknowledged batch. Acknowledgements in it still count.
                HandleAcknowledgements(frame);
                if (again > 0) GetOutbox(sender).SendAcknowledgement(stream, again);
                return;
            }
        }
        await HandleRecordsAsync(frame).ConfigureAwait(false);
        if (sender is not null && sequence > 0)
        {
            _inbound.Handled(sender, stream, sequence, Volatile.Read(ref _deadGeneration));
            GetOutbox(sender).SendAcknowledgement(stream, sequence);
        }
    }

    private void HandleAcknowledgements(ReadOnlyMemory<byte> frame)
    {
        while (ClusterFrame.TryRead(ref frame, out var kind, out _, out var target, out var payload))
        {
            if (kind == RecordKind.Ack) Acknowledged(target, payload.Span);
        }
    }

    private void Acknowledged(string node, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 24 || node == NodeId || !_outboxes.TryGetValue(node, out var outbox)) return;
        outbox.Acknowledge(BinaryPrimitives.ReadInt64BigEndian(payload), BinaryPrimitives.ReadInt64BigEndian(payload[8..]), BinaryPrimitives.ReadInt64BigEndian(payload[16..]));
    }

    private async ValueTask HandleRecordsAsync(ReadOnlyMemory<byte> frame)
    {
        while (ClusterFrame.TryRead(ref frame, out var kind, out var flags, out var target, out var payload))
        {
            try
            {
                if (kind == RecordKind.Ack)
                {
                    Acknowledged(target, payload.Span);
                    continue;
                }
                if (kind == RecordKind.NodeGone)
                {
                    if (target != NodeId)
                    {
                        _mirror.RemoveNode(target);
                        if (_outboxes.TryGetValue(target, out var outbox)) outbox.NodeDead();
                    }
                    continue;
                }
                if (!Jid.TryParse(target, out var jid)) continue;
                switch (kind)
                {
                    case RecordKind.Deliver:
                        if (StanzaBytes.Parse(payload) is { } stanza)
                        {
                            await _server.Router.DeliverFromClusterAsync(jid, stanza, (flags & RecordFlags.AddressToTarget) != 0).ConfigureAwait(false);
                        }
                        break;
                    case RecordKind.Replace:
                        await _server.ReplaceSessionAsync(jid).ConfigureAwait(false);
                        break;
                    case RecordKind.AccountEvent:
                        var zero = payload.Span.IndexOf((byte)0);
                        if (zero <= 0) break;
                        var name = Encoding.UTF8.GetString(payload.Span[..zero]);
                        if (_accountEvents.TryGetValue(name, out var handler) && StanzaBytes.Parse(payload[(zero + 1)..]) is { } body)
                        {
                            await handler(jid, body).ConfigureAwait(false);
                        }
                        break;
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                ClusterLog.ReceiveFailed(Logger, e);
            }
        }
    }

    /// <summary>Queued records per destination node (diagnostics, tests).</summary>
    internal int QueuedFor(string node) => _outboxes.TryGetValue(node, out var o) ? o.Count : 0;
}

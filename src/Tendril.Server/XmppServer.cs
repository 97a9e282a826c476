using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Cluster;
using Tendril.Server.Configuration;
using Tendril.Server.Diagnostics;
using Tendril.Server.Features;
using Tendril.Server.Logging;
using Tendril.Server.Routing;
using Tendril.Server.Streams;
using Tendril.Server.Timers;
using Tendril.Server.Transport;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server;

/// <summary>
/// The composition root of one XMPP server: options, storage, certificate, features, the session table and router,
/// the heartbeat and the listeners. Constructible without a DI container (tests build it directly); the host wires it
/// through <c>AddTendrilServer</c>.
/// </summary>
public sealed class XmppServer : IAsyncDisposable
{
    private readonly List<TcpListenerLoop> _listeners = [];
    private readonly ILogger _logger;
    private int _stopped;
    private volatile ServerSettings _settings;
    private readonly Lock _reloadGate = new();

    public XmppServer(TendrilOptions options, IStorage storage, X509Certificate2 certificate, IEnumerable<IServerFeature> features,
        ILoggerFactory? loggerFactory = null, TimeProvider? time = null, IClusterBackend? cluster = null)
    {
        options.Validate();
        Storage = storage;
        Time = time ?? TimeProvider.System;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = LoggerFactory.CreateLogger("Tendril.Server");
        StreamLogger = LoggerFactory.CreateLogger("Tendril.C2s");
        StorageOutage = new Logging.StorageOutageLog(LoggerFactory.CreateLogger("Tendril.Storage"));
        Domain = Jid.Create(null, options.Domain).Domain;
        DomainJid = Jid.Create(null, Domain);
        _settings = new ServerSettings(options, certificate, SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true));
        StartedAt = Time.GetUtcNow();
        Sessions = new SessionTable();
        Cluster = cluster ?? SingleNode.Instance;
        Cluster.Attach(this);
        Cluster.OnAccountEvent(CloseSessionsEvent, OnClusterCloseSessionsAsync);
        var routerLogger = LoggerFactory.CreateLogger("Tendril.Router");
        Delivery = new Delivery(this, Sessions, Cluster, routerLogger);
        Router = new Router(this, Sessions, Delivery, routerLogger);
        IqTracker = new IqTracker(this);
        Connections = new ConnectionGate(() => _settings.ConnectionLimits, Time, _logger);
        LoginThrottle = new Security.LoginThrottle(Time, () => Options);
        Metrics = new TendrilMetrics(this);
        Connections.Refused += Metrics.ConnectionRefused;
        _refusalPrefix = BuildRefusalPrefix(Domain);
        Features = new FeatureRegistry(this);
        var featureList = features.ToArray();
        foreach (var feature in featureList) feature.Register(Features);
        Features.Freeze();
        ServerFeatures = featureList;
        StreamManagement = new StreamManagementRegistry(this);
        Cluster.OnAccountEvent(StreamManagementRegistry.ResumeFailedEvent, StreamManagement.OnResumeFailedElsewhereAsync);
        Heartbeat = new Heartbeat(Time, now =>
        {
            IqTracker.Sweep(now);
            StreamManagement.Sweep(now);
            Tls.NativeMemoryTrimmer.MaybeTrim(now);
            Connections.FlushReport();
        }, _logger);
    }

    /// <summary>
    /// The configuration in force. It is replaced as a whole by <see cref="Reload"/> (never mutated), so read it at the
    /// moment of use and do not cache it: streams see new limits and timeouts at their next check.
    /// </summary>
    public TendrilOptions Options => _settings.Options;

    /// <summary>The hosted domain, normalized. Not reloadable.</summary>
    public string Domain { get; }

    public Jid DomainJid { get; }

    public IStorage Storage { get; }

    public TimeProvider Time { get; }

    public DateTimeOffset StartedAt { get; }

    public ILoggerFactory LoggerFactory { get; }

    internal ILogger StreamLogger { get; }

    /// <summary>
    /// Logs storage refusals on the stanza paths (a filter that cannot read, an offline store that fails) as one
    /// outage — start, counts, end — instead of a stack trace per stanza.
    /// </summary>
    public Logging.StorageOutageLog StorageOutage { get; }

    /// <summary>The TLS certificate new handshakes use (reloadable).</summary>
    public X509Certificate2 Certificate => _settings.Certificate;

    internal SslStreamCertificateContext CertificateContext => _settings.CertificateContext;

    /// <summary>Parser limits for new streams (reloadable; a stream keeps the limits it started with).</summary>
    internal XmlParserOptions ParserOptions => _settings.ParserOptions;

    public SessionTable Sessions { get; }

    /// <summary>The other nodes serving this domain (<see cref="Tendril.Server.Cluster.SingleNode"/> when alone).</summary>
    public IClusterBackend Cluster { get; }

    public Router Router { get; }

    /// <summary>Where recipients are and how a stanza reaches them (this node, other nodes, hosted services, remote domains).</summary>
    public Delivery Delivery { get; }

    public IqTracker IqTracker { get; }

    public FeatureRegistry Features { get; }

    /// <summary>The feature objects, for hooks they may also implement (<see cref="IReloadableFeature"/>, admin sections).</summary>
    public IReadOnlyList<IServerFeature> ServerFeatures { get; }

    public TendrilMetrics Metrics { get; }

    public Heartbeat Heartbeat { get; }

    /// <summary>Resumable and hibernating XEP-0198 sessions.</summary>
    public StreamManagementRegistry StreamManagement { get; }

    /// <summary>How long closing connections may take to drain their output, and a stop waits (<c>Tendril:Limits:DrainSeconds</c>).</summary>
    public TimeSpan DrainTimeout => TimeSpan.FromSeconds(Options.Limits.DrainSeconds);

    /// <summary>Open connections and streams still negotiating, against the connection limits (docs/security.md).</summary>
    public ConnectionGate Connections { get; }

    /// <summary>Failed password checks per source and account, on every surface (issue 19).</summary>
    public Security.LoginThrottle LoginThrottle { get; }

    /// <summary>True once <see cref="StopAsync"/> began.</summary>
    public bool IsStopping => Volatile.Read(ref _stopped) != 0;

    /// <summary>The bound STARTTLS endpoint once started (null when disabled).</summary>
    public IPEndPoint? C2sEndPoint { get; private set; }

    /// <summary>The bound direct-TLS endpoint once started (null when disabled).</summary>
    public IPEndPoint? DirectTlsEndPoint { get; private set; }

    /// <summary>Starts the heartbeat and, unless <paramref name="listen"/> is false (in-memory tests), the TCP listeners.</summary>
    public async Task StartAsync(bool listen = true)
    {
        await Cluster.StartAsync().ConfigureAwait(false);
        Heartbeat.Start();
        var limits = _settings.ConnectionLimits;
        if (limits.Clamped) ServerLog.ConnectionLimitClamped(_logger, Options.Limits.MaxConnections, limits.DescriptorLimit ?? 0, limits.MaxConnections);
        ServerLog.ConnectionLimitsInForce(_logger, limits.ToString());
        if (!listen) return;
        var address = ParseAddress(Options.C2s.Address);
        try
        {
            // Every listener binds before any accepts: a port in use fails the start as a whole (ListenerBindException).
            var c2s = new TcpListenerLoop(new IPEndPoint(address, Options.C2s.Port), s => AcceptSocketAsync(s, false, "c2s"), _logger, "c2s",
                "Tendril:C2s:Port", "Tendril:C2s:Address");
            _listeners.Add(c2s);
            C2sEndPoint = c2s.EndPoint;
            if (Options.C2s.DirectTlsEnabled)
            {
                var tls = new TcpListenerLoop(new IPEndPoint(address, Options.C2s.DirectTlsPort), s => AcceptSocketAsync(s, true, "c2s-tls"), _logger, "c2s-tls",
                    "Tendril:C2s:DirectTlsPort", "Tendril:C2s:Address");
                _listeners.Add(tls);
                DirectTlsEndPoint = tls.EndPoint;
            }
            foreach (var f in ServerFeatures.OfType<IListenerFeature>()) f.StartListening();
        }
        catch (ListenerBindException)
        {
            foreach (var l in _listeners) await l.DisposeAsync().ConfigureAwait(false);
            _listeners.Clear();
            foreach (var f in ServerFeatures.OfType<IListenerFeature>()) await f.StopListeningAsync().ConfigureAwait(false);
            throw;
        }
        foreach (var l in _listeners)
        {
            var directTls = l.Name == "c2s-tls";
            l.UseGate(Connections, (socket, refusal) => RefuseSocket(socket, refusal, directTls));
            l.Start();
        }
    }

    internal static IPAddress ParseAddress(string address) => address switch
    {
        "any" or "" or "*" => IPAddress.IPv6Any,
        "loopback" or "localhost" => IPAddress.Loopback,
        _ => IPAddress.Parse(address),
    };

    private Task AcceptSocketAsync(Socket socket, bool directTls, string listener)
    {
        if (Volatile.Read(ref _stopped) == 0 && !Connections.TryBeginNegotiation())
        {
            // Refused before anything is allocated for it: a flood of silent connections costs a descriptor each for a moment.
            var address = (socket.RemoteEndPoint as IPEndPoint)?.Address;
            Connections.Report(ConnectionRefusal.Unauthenticated, listener, address);
            RefuseSocket(socket, ConnectionRefusal.Unauthenticated, directTls);
            return Task.CompletedTask;
        }
        var stream = new NetworkStream(socket, ownsSocket: true);
        var transport = new StreamTransport(stream, socket.RemoteEndPoint?.ToString() ?? "?", socket.LocalEndPoint?.ToString() ?? "?");
        return RunStreamAsync(transport, directTls, listener, negotiationCounted: true);
    }

    /// <summary>
    /// Runs one client connection over any transport until it ends (used by the WebSocket and BOSH endpoints and
    /// in-memory tests). Past <see cref="ConnectionLimits.MaxUnauthenticated"/> streams still negotiating, the stream is
    /// closed at once with resource-constraint.
    /// </summary>
    public Task AcceptAsync(XmppTransport transport, bool directTls, string listener = "memory")
    {
        if (Volatile.Read(ref _stopped) != 0)
        {
            return transport.DisposeAsync().AsTask();
        }
        if (!Connections.TryBeginNegotiation())
        {
            Connections.Report(ConnectionRefusal.Unauthenticated, listener, null);
            var refused = new C2sStream(this, transport, directTls, listener, negotiationCounted: false);
            _ = refused.CloseAsync(RefusalError(ConnectionRefusal.Unauthenticated), "refused: too many unauthenticated connections");
            return refused.RunAsync();
        }
        return RunStreamAsync(transport, directTls, listener, negotiationCounted: true);
    }

    private Task RunStreamAsync(XmppTransport transport, bool directTls, string listener, bool negotiationCounted)
    {
        if (Volatile.Read(ref _stopped) != 0)
        {
            if (negotiationCounted) Connections.EndNegotiation();
            return transport.DisposeAsync().AsTask();
        }
        var stream = new C2sStream(this, transport, directTls, listener, negotiationCounted);
        Metrics.ConnectionAccepted(listener, transport.Kind);
        return stream.RunAsync();
    }

    private readonly byte[] _refusalPrefix;

    /// <summary>
    /// RFC 6120 §4.9.3: a limit of the whole server is resource-constraint ("lacks the system resources necessary to
    /// service the stream", §4.9.3.14); the per-address limit is this client's share, a local service policy:
    /// policy-violation (§4.9.3.13), with the policy in the text.
    /// </summary>
    internal static StreamError RefusalError(ConnectionRefusal refusal) => refusal switch
    {
        ConnectionRefusal.Address => new StreamError(StreamErrorCondition.PolicyViolation, "Too many connections from your address."),
        ConnectionRefusal.Unauthenticated => new StreamError(StreamErrorCondition.ResourceConstraint, "Too many connections are logging in; try again later."),
        _ => new StreamError(StreamErrorCondition.ResourceConstraint, "The server has too many connections; try again later."),
    };

    private static byte[] BuildRefusalPrefix(string domain)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        buffer.Write("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='"u8);
        XmlWriter.WriteEscapedAttributeValue(buffer, domain);
        buffer.Write("' version='1.0' xml:lang='en' id='"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private static readonly byte[] s_addressRefusal = System.Text.Encoding.UTF8.GetBytes(RefusalTail(ConnectionRefusal.Address));
    private static readonly byte[] s_unauthenticatedRefusal = System.Text.Encoding.UTF8.GetBytes(RefusalTail(ConnectionRefusal.Unauthenticated));
    private static readonly byte[] s_totalRefusal = System.Text.Encoding.UTF8.GetBytes(RefusalTail(ConnectionRefusal.Total));

    private static string RefusalTail(ConnectionRefusal refusal)
    {
        var error = RefusalError(refusal);
        return $"'><stream:error><{error.ConditionName} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>{error.Text}</text></stream:error></stream:stream>";
    }

    /// <summary>
    /// Refuses a TCP connection over a limit: on the STARTTLS port a stream header (RFC 6120 §4.9.1.2: the error comes
    /// in a stream) and the stream error, written without waiting; on the direct-TLS port nothing can be said before a
    /// TLS handshake, which a flood must not get for free, so the connection is just closed.
    /// </summary>
    private void RefuseSocket(Socket socket, ConnectionRefusal refusal, bool directTls)
    {
        if (directTls)
        {
            TcpListenerLoop.Refuse(socket, default);
            return;
        }
        var tail = refusal switch
        {
            ConnectionRefusal.Address => s_addressRefusal,
            ConnectionRefusal.Unauthenticated => s_unauthenticatedRefusal,
            _ => s_totalRefusal,
        };
        Span<byte> bytes = stackalloc byte[_refusalPrefix.Length + 24 + tail.Length];
        _refusalPrefix.CopyTo(bytes);
        Span<byte> id = stackalloc byte[12];
        System.Security.Cryptography.RandomNumberGenerator.Fill(id);
        Convert.TryToHexStringLower(id, bytes.Slice(_refusalPrefix.Length, 24), out _);
        tail.CopyTo(bytes[(_refusalPrefix.Length + 24)..]);
        TcpListenerLoop.Refuse(socket, bytes);
    }

    /// <summary>
    /// Another node of the cluster bound the same full JID: the local session is replaced (RFC 6120 §7.7.2.2, the
    /// newer binding wins) — unbound, its presence retracted, its stream closed with <c>conflict</c>.
    /// </summary>
    public async ValueTask ReplaceSessionAsync(Jid fullJid)
    {
        if (Sessions.Find(fullJid) is not { } session || !Sessions.Unbind(session)) return;
        await Streams.States.BindState.CloseReplacedAsync(this, session).ConfigureAwait(false);
    }

    private const string CloseSessionsEvent = "close-sessions";

    /// <summary>
    /// Closes the sessions of an account (every resource, or the one <paramref name="jid"/> names) with a stream error,
    /// on this node and on every other node of the cluster (account deleted, kicked). Returns how many were closed
    /// here plus how many other nodes were asked to close.
    /// </summary>
    public async ValueTask<int> CloseSessionsAsync(Jid jid, StreamError error, string reason)
    {
        var closed = 0;
        var resources = Delivery.Of(jid);
        foreach (var session in resources.Here)
        {
            if (jid.Resource is not null && session.Jid.Resource != jid.Resource) continue;
            await session.Stream.CloseAsync(error, reason).ConfigureAwait(false);
            closed++;
        }
        if (!Cluster.IsClustered) return closed;
        foreach (var remote in resources.Elsewhere)
        {
            if (jid.Resource is null || remote.Jid.Resource == jid.Resource) closed++;
        }
        var payload = new XmlElement("close", "urn:tendril:cluster").SetAttribute("condition", ((int)error.Condition).ToString(System.Globalization.CultureInfo.InvariantCulture)).SetAttribute("reason", reason);
        if (jid.Resource is not null) payload.SetAttribute("resource", jid.Resource);
        if (error.Text is not null) payload.Add(error.Text);
        Cluster.SendAccountEvent(jid.Bare, CloseSessionsEvent, payload);
        return closed;
    }

    private async ValueTask OnClusterCloseSessionsAsync(Jid account, XmlElement payload)
    {
        if (!int.TryParse(payload.GetAttribute("condition"), System.Globalization.CultureInfo.InvariantCulture, out var condition)) return;
        var error = new StreamError((StreamErrorCondition)condition, payload.Text.Length > 0 ? payload.Text : null);
        var resource = payload.GetAttribute("resource");
        foreach (var session in Delivery.Here(account))
        {
            if (resource is not null && session.Jid.Resource != resource) continue;
            await session.Stream.CloseAsync(error, payload.GetAttribute("reason") ?? "closed by another cluster node").ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A resource of this domain bound on a cluster node that died: its contacts and the user's other resources get
    /// unavailable presence from it (called once, by the node that purged the dead one).
    /// </summary>
    public ValueTask ResourceGoneAsync(Jid fullJid) => Features.PresenceHandler is { } handler ? handler.OnResourceGoneAsync(fullJid) : ValueTask.CompletedTask;

    /// <summary>
    /// This node was declared dead by the cluster and purged, yet lives and re-joined: <paramref name="session"/>'s
    /// presence is announced again and its contacts probed (the survivors told everyone it had gone).
    /// </summary>
    public ValueTask AnnounceAgainAsync(Routing.C2sSession session) => Routing.PresenceBroadcaster.AnnounceAgainAsync(this, session);

    /// <summary>
    /// Applies a new configuration without touching established sessions: limits and timeouts (read by streams at use
    /// time), parser limits for new streams, the TLS certificate for new handshakes, and whatever features do in
    /// <see cref="IReloadableFeature.OnReload"/>. The domain cannot change; listener addresses, ports, the data folder
    /// and storage take effect only at restart (reported in <see cref="ReloadResult.RestartRequired"/>). Refused (and
    /// nothing changed) when <paramref name="options"/> does not validate or changes the domain.
    /// </summary>
    public ReloadResult Reload(TendrilOptions options, X509Certificate2? certificate = null, SslStreamCertificateContext? certificateContext = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_reloadGate)
        {
            try
            {
                options.Validate();
            }
            catch (InvalidOperationException e)
            {
                return ReloadResult.Refused(e.Message);
            }
            string domain;
            try
            {
                domain = Jid.Create(null, options.Domain).Domain;
            }
            catch (FormatException e)
            {
                return ReloadResult.Refused($"Tendril:Domain '{options.Domain}' is not a valid domain: {e.Message}");
            }
            if (domain != Domain)
            {
                return ReloadResult.Refused($"Tendril:Domain cannot change while running ({Domain} -> {domain}); restart the server to serve another domain.");
            }
            var old = _settings;
            var changed = ServerSettings.ChangedSections(old.Options, options);
            var restart = ServerSettings.RestartRequired(old.Options, options);
            var cert = certificate ?? old.Certificate;
            var context = certificateContext ?? (certificate is null ? old.CertificateContext : SslStreamCertificateContext.Create(certificate, null, offline: true));
            if (certificate is not null && certificate.Thumbprint != old.Certificate.Thumbprint) changed.Add("certificate");
            _settings = new ServerSettings(options, cert, context);
            foreach (var feature in ServerFeatures.OfType<IReloadableFeature>())
            {
                try
                {
                    feature.OnReload(options);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    _logger.LogError(e, "Feature {Feature} failed to apply the reloaded configuration", feature.GetType().Name);
                }
            }
            return ReloadResult.Applied(changed, restart);
        }
    }

    /// <summary>
    /// Graceful stop, in two phases so no stanza the server accepted is lost: (1) no new connections, and every stream
    /// stops reading while the stanza it is handling finishes routing; (2) every stream gets <c>system-shutdown</c>
    /// after everything already queued to it, its writer drains and flushes. Waits up to <paramref name="timeout"/>.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        var deadline = Time.GetUtcNow() + timeout;
        foreach (var l in _listeners) await l.DisposeAsync().ConfigureAwait(false);
        foreach (var f in ServerFeatures.OfType<IListenerFeature>()) await f.StopListeningAsync().ConfigureAwait(false);
        var streams = Heartbeat.Streams.ToArray();
        foreach (var s in streams) s.StopReading();
        var readers = Task.WhenAll(streams.Select(s => s.ReadStopped));
        await Task.WhenAny(readers, Task.Delay(Min(TimeSpan.FromSeconds(2), deadline - Time.GetUtcNow()), Time)).ConfigureAwait(false);
        try
        {
            await Features.RaiseServerStoppingAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "A feature failed while the server began to stop"); // the stop goes on
        }
        foreach (var s in Heartbeat.Streams)
        {
            await s.CloseAsync(new StreamError(StreamErrorCondition.SystemShutdown, "The server is shutting down."), "server shutdown").ConfigureAwait(false);
        }
        // Every stream gone, and every session's end (unbind, unavailable presence) done: what they route still goes out.
        while (true)
        {
            var ended = Volatile.Read(ref _streamEnded).Task; // taken before the check: an end after it completes this task
            var remaining = deadline - Time.GetUtcNow();
            if ((Heartbeat.Count == 0 && Volatile.Read(ref _sessionsEnding) == 0) || remaining <= TimeSpan.Zero) break;
            await Task.WhenAny(ended, Task.Delay(remaining, Time)).ConfigureAwait(false);
        }
        await Heartbeat.DisposeAsync().ConfigureAwait(false);
        // Sessions waiting for resumption end now: their unacknowledged messages go to offline storage.
        await StreamManagement.EndAllAsync().ConfigureAwait(false);
        // Background writers (the archive) write what they queued, before the host closes storage.
        foreach (var f in ServerFeatures.OfType<IStoppableFeature>())
        {
            try
            {
                await f.StopAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Stopping {Feature} failed", f.GetType().Name); // the others still stop
            }
        }
        // Last: the cluster hears this node leave after every session's unbind went out.
        await Cluster.StopAsync().ConfigureAwait(false);
    }

    private int _sessionsEnding;
    private TaskCompletionSource _streamEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Counts streams between leaving the heartbeat and the end of their session's unbind and unavailable broadcast;
    /// each end wakes a stop waiting for the streams to drain.
    /// </summary>
    internal void SessionEnding(int delta)
    {
        Interlocked.Add(ref _sessionsEnding, delta);
        if (delta < 0) Interlocked.Exchange(ref _streamEnded, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? (a < TimeSpan.Zero ? TimeSpan.Zero : a) : (b < TimeSpan.Zero ? TimeSpan.Zero : b);

    public async ValueTask DisposeAsync()
    {
        await StopAsync(DrainTimeout).ConfigureAwait(false);
        Metrics.Dispose();
    }
}

using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Configuration;
using Tendril.Server.Features;
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

    public XmppServer(TendrilOptions options, IStorage storage, X509Certificate2 certificate, IEnumerable<IServerFeature> features,
        ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        options.Validate();
        Options = options;
        Storage = storage;
        Time = time ?? TimeProvider.System;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = LoggerFactory.CreateLogger("Tendril.Server");
        StreamLogger = LoggerFactory.CreateLogger("Tendril.C2s");
        Domain = Jid.Create(null, options.Domain).Domain;
        DomainJid = Jid.Create(null, Domain);
        Certificate = certificate;
        CertificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
        ParserOptions = new XmlParserOptions
        {
            MaxStanzaBytes = options.Limits.MaxStanzaBytes,
            MaxDepth = options.Limits.MaxDepth,
            MaxAttributes = options.Limits.MaxAttributes,
        };
        Sessions = new SessionTable();
        Router = new Router(this, Sessions, LoggerFactory.CreateLogger("Tendril.Router"));
        IqTracker = new IqTracker(this);
        Features = new FeatureRegistry(this);
        foreach (var feature in features) feature.Register(Features);
        Features.Freeze();
        Heartbeat = new Heartbeat(Time, IqTracker.Sweep);
    }

    public TendrilOptions Options { get; }

    /// <summary>The hosted domain, normalized.</summary>
    public string Domain { get; }

    public Jid DomainJid { get; }

    public IStorage Storage { get; }

    public TimeProvider Time { get; }

    public ILoggerFactory LoggerFactory { get; }

    internal ILogger StreamLogger { get; }

    public X509Certificate2 Certificate { get; }

    internal SslStreamCertificateContext CertificateContext { get; }

    internal XmlParserOptions ParserOptions { get; }

    public SessionTable Sessions { get; }

    public Router Router { get; }

    public IqTracker IqTracker { get; }

    public FeatureRegistry Features { get; }

    public Heartbeat Heartbeat { get; }

    /// <summary>The bound STARTTLS endpoint once started (null when disabled).</summary>
    public IPEndPoint? C2sEndPoint { get; private set; }

    /// <summary>The bound direct-TLS endpoint once started (null when disabled).</summary>
    public IPEndPoint? DirectTlsEndPoint { get; private set; }

    /// <summary>Starts the heartbeat and, unless <paramref name="listen"/> is false (in-memory tests), the TCP listeners.</summary>
    public Task StartAsync(bool listen = true)
    {
        Heartbeat.Start();
        if (!listen) return Task.CompletedTask;
        var address = ParseAddress(Options.C2s.Address);
        var c2s = new TcpListenerLoop(new IPEndPoint(address, Options.C2s.Port), s => AcceptSocketAsync(s, false, "c2s"), _logger, "c2s");
        _listeners.Add(c2s);
        C2sEndPoint = c2s.EndPoint;
        if (Options.C2s.DirectTlsEnabled)
        {
            var tls = new TcpListenerLoop(new IPEndPoint(address, Options.C2s.DirectTlsPort), s => AcceptSocketAsync(s, true, "c2s-tls"), _logger, "c2s-tls");
            _listeners.Add(tls);
            DirectTlsEndPoint = tls.EndPoint;
        }
        foreach (var l in _listeners) l.Start();
        return Task.CompletedTask;
    }

    private static IPAddress ParseAddress(string address) => address switch
    {
        "any" or "" or "*" => IPAddress.IPv6Any,
        "loopback" or "localhost" => IPAddress.Loopback,
        _ => IPAddress.Parse(address),
    };

    private Task AcceptSocketAsync(Socket socket, bool directTls, string listener)
    {
        var stream = new NetworkStream(socket, ownsSocket: true);
        var transport = new StreamTransport(stream, socket.RemoteEndPoint?.ToString() ?? "?", socket.LocalEndPoint?.ToString() ?? "?");
        return AcceptAsync(transport, directTls, listener);
    }

    /// <summary>Runs one client connection over any transport until it ends (used by listeners and in-memory tests).</summary>
    public Task AcceptAsync(XmppTransport transport, bool directTls, string listener = "memory")
    {
        if (Volatile.Read(ref _stopped) != 0)
        {
            return transport.DisposeAsync().AsTask();
        }
        var stream = new C2sStream(this, transport, directTls, listener);
        return stream.RunAsync();
    }

    /// <summary>
    /// Graceful stop: no new connections; every open stream gets <c>system-shutdown</c> after its queued stanzas;
    /// waits up to <paramref name="timeout"/> for them to close.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        foreach (var l in _listeners) await l.DisposeAsync().ConfigureAwait(false);
        foreach (var s in Heartbeat.Streams)
        {
            await s.CloseAsync(new StreamError(StreamErrorCondition.SystemShutdown, "The server is shutting down."), "server shutdown").ConfigureAwait(false);
        }
        var deadline = DateTime.UtcNow + timeout;
        while (Heartbeat.Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }
        await Heartbeat.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
}

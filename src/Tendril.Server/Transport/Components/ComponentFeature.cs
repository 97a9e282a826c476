using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Transport;
using Tendril.Server.Features;
using Tendril.Xml;

namespace Tendril.Server.Transport.Components;

/// <summary>
/// External components (XEP-0114, <c>jabber:component:accept</c>): a service such as a bot or a gateway connects to
/// <c>Tendril:Components:Port</c>, proves the shared secret of its domain with the handshake, and from then on
/// sends stanzas from its domain and receives every stanza addressed to it. Each configured domain is hosted on the
/// server (listed in disco#items); while its component is not connected, requests to it get service-unavailable.
/// One connection per domain: a second one is refused with <c>conflict</c>.
/// </summary>
public sealed class ComponentFeature : IServerFeature, IListenerFeature
{
    public const string Namespace = "jabber:component:accept";

    private readonly Dictionary<string, string> _secrets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ComponentConnection> _connected = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ComponentConnection, Task> _connections = new();
    private XmppServer? _server;
    private TcpListenerLoop? _listener;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>The bound endpoint once listening (null when no component is configured or the server does not listen).</summary>
    public IPEndPoint? EndPoint => _listener?.EndPoint;

    /// <summary>The component domains connected now.</summary>
    public IReadOnlyCollection<string> Connected => [.. _connected.Keys];

    public void Register(FeatureRegistry registry)
    {
        var server = registry.Server;
        if (server.Options.Components.Services.Count == 0) return;
        _server = server;
        _logger = server.LoggerFactory.CreateLogger("Tendril.Components");
        foreach (var c in server.Options.Components.Services)
        {
            var domain = Jid.Create(null, c.Domain).Domain;
            _secrets[domain] = c.Secret;
            registry.AddHostedDomain(domain, (stanza, from, to, origin) => ToComponentAsync(domain, stanza));
            registry.AddDiscoItem(new DiscoItem(domain));
        }
    }

    public void StartListening()
    {
        if (_server is not { } server) return;
        var options = server.Options.Components;
        _listener = new TcpListenerLoop(new IPEndPoint(XmppServer.ParseAddress(options.Address), options.Port), AcceptAsync, _logger, "component",
            "Tendril:Components:Port", "Tendril:Components:Address");
        // Component connections count against the total and per-address limits like any other (refused: just closed).
        _listener.UseGate(server.Connections, static (socket, _) => TcpListenerLoop.Refuse(socket, default));
        _listener.Start();
    }

    public async ValueTask StopListeningAsync()
    {
        if (_listener is { } listener) await listener.DisposeAsync().ConfigureAwait(false);
        foreach (var c in _connections.Keys) c.Close(StreamErrorCondition.SystemShutdown, "The server is shutting down.");
        await Task.WhenAny(Task.WhenAll(_connections.Values), Task.Delay(_server?.DrainTimeout ?? TimeSpan.FromSeconds(Configuration.LimitsOptions.DefaultDrainSeconds))).ConfigureAwait(false);
    }

    private async Task AcceptAsync(Socket socket)
    {
        var server = _server!;
        var connection = new ComponentConnection(this, server, new NetworkStream(socket, ownsSocket: true), socket.RemoteEndPoint?.ToString() ?? "?", _logger);
        var run = connection.RunAsync();
        _connections[connection] = run;
        try
        {
            await run.ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(connection, out _);
        }
    }

    /// <summary>The secret of a configured component domain, or null.</summary>
    internal string? SecretOf(string domain) => _secrets.GetValueOrDefault(domain);

    /// <summary>Claims the domain for an authenticated connection; false when another connection holds it.</summary>
    internal bool TryClaim(string domain, ComponentConnection connection) => _connected.TryAdd(domain, connection);

    internal void Release(string domain, ComponentConnection connection) =>
        _connected.TryRemove(new KeyValuePair<string, ComponentConnection>(domain, connection));

    /// <summary>A stanza for the component's domain (any JID at it): queued to the connection, or bounced.</summary>
    private ValueTask ToComponentAsync(string domain, XmlElement stanza)
    {
        if (_connected.TryGetValue(domain, out var connection) && connection.TryEnqueue(stanza)) return ValueTask.CompletedTask;
        // RFC 6120 §10.4.3 / XEP-0114: nobody serves the domain right now (or it does not read fast enough).
        var condition = connection is null ? StanzaErrorCondition.ServiceUnavailable : StanzaErrorCondition.ResourceConstraint;
        if (stanza.Name != "presence") _server!.Router.BounceError(stanza, condition);
        return ValueTask.CompletedTask;
    }
}

using Tendril.Protocol;
using Tendril.Server.Configuration;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>
/// The publish-subscribe service(s) of the server (XEP-0060): one <see cref="PubSubService"/> per JID in
/// <c>Tendril:PubSub:Services</c> (default <c>pubsub.{Domain}</c>), each hosted as its own domain and listed in the
/// server's disco#items. Any local account may create nodes.
/// </summary>
public sealed class PubSubFeature(PubSubOptions? options = null) : IServerFeature, Admin.IAdminSectionProvider
{
    private readonly PubSubOptions _options = options ?? new PubSubOptions();
    private readonly Dictionary<string, PubSubService> _services = new(StringComparer.Ordinal);
    private XmppServer? _server;

    /// <summary>The services by JID (filled by <see cref="Register"/>).</summary>
    public IReadOnlyDictionary<string, PubSubService> Services => _services;

    /// <summary>The nodes of every service, on the admin page when a service runs.</summary>
    public IEnumerable<Admin.IAdminSection> AdminSections => _services.Count > 0 ? [new PubSubAdminSection(this)] : [];

    /// <summary>The server, known from the first stanza or set by the host (the HTTP API).</summary>
    public XmppServer Server => _server ?? throw new InvalidOperationException("The pubsub feature is not attached to a running server.");

    public void Attach(XmppServer server) => Interlocked.CompareExchange(ref _server, server, null);

    public void Register(FeatureRegistry registry)
    {
        if (!_options.Enabled) return;
        var names = _options.Services.Count == 0 ? ["pubsub.{Domain}"] : _options.Services;
        foreach (var name in names)
        {
            var jid = Jid.Parse(name.Replace("{Domain}", registry.Domain, StringComparison.Ordinal));
            if (!jid.IsDomain) throw new InvalidOperationException($"Tendril:PubSub:Services: '{name}' is not a domain JID.");
            var domain = registry.Domain;
            var policy = new PubSubServicePolicy
            {
                MayCreateNodes = creator => creator.Domain == domain && creator.Local is not null,
                MaxItemsLimit = _options.MaxItems,
                MaxNodesPerOwner = _options.MaxNodesPerAccount,
                MaxPayloadBytes = _options.MaxPayloadBytes,
                Access = new RosterAccessContext(new RosterQueries(registry.Server.Storage)),
            };
            var service = new PubSubService(jid, policy, () => Server);
            _services.Add(jid.Domain, service);
            if (registry.Server.Cluster.IsClustered) service.ChangedLocally = PubSubCluster.Announce(registry.Server);
            registry.AddHostedDomain(jid.Domain, (stanza, from, to, origin) =>
            {
                if (origin is not null) Attach(origin.Stream.Server);
                return service.HandleStanzaAsync(stanza, from, to);
            });
            registry.AddDiscoItem(new DiscoItem(jid.Domain, "Publish-Subscribe"));
        }
        if (registry.Server.Cluster.IsClustered)
        {
            registry.Server.Cluster.OnAccountEvent(PubSubCluster.EventName, (_, payload) =>
                payload.GetAttribute("service") is { } changed && _services.TryGetValue(changed, out var s) ? s.InvalidateAsync() : ValueTask.CompletedTask);
            registry.Server.Cluster.EventsMissed += () => PubSubCluster.InvalidateAll(_services.Values);
        }
        registry.SessionAvailable += async session =>
        {
            Attach(session.Stream.Server);
            foreach (var service in _services.Values) await service.OnSessionAvailableAsync(session).ConfigureAwait(false);
        };
    }
}

using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Server.Configuration;

namespace Tendril.Server.Features.Muc;

/// <summary>
/// Multi-user chat (XEP-0045): the group chat service at <c>Tendril:Muc:Service</c> (default <c>conference.{Domain}</c>),
/// hosted as its own domain and listed in the server's disco#items. Rooms are created by entering them (who may:
/// <c>Tendril:Muc:RoomCreation</c>); persistent rooms live in the store (<see cref="Storage.IMucStore"/>).
/// </summary>
public sealed class MucFeature : IServerFeature, IStoppableFeature, Admin.IAdminSectionProvider
{
    private MucService? _service;

    /// <summary>The service (null when disabled or before registration).</summary>
    public MucService? Service => _service;

    /// <summary>The rooms, on the admin page when the service runs.</summary>
    public IEnumerable<Admin.IAdminSection> AdminSections => _service is null ? [] : [new MucAdminSection(_service)];

    /// <summary>Writes what the rooms' archive writer holds (graceful stop, bounded like the rest of the stop).</summary>
    public async Task StopAsync()
    {
        if (_service?.Archive is { } writer) await writer.StopAsync(_service.Server.DrainTimeout).ConfigureAwait(false);
    }

    public void Register(FeatureRegistry registry)
    {
        var server = registry.Server;
        var options = server.Options.Muc;
        var logger = server.LoggerFactory.CreateLogger("Tendril.Muc");
        if (!options.Enabled)
        {
            logger.LogInformation("Group chat (XEP-0045) is off (Tendril:Muc:Enabled)");
            return;
        }
        if (server.Cluster.IsClustered)
        {
            // Each room must have one live owner node; until rooms are placed across nodes, a clustered server offers
            // no group chat rather than rooms that split in two.
            logger.LogWarning("Group chat (XEP-0045) is not available on a cluster yet: {Service} is off on this node", options.Service);
            return;
        }
        var jid = Jid.Parse(options.Service.Replace("{Domain}", registry.Domain, StringComparison.Ordinal));
        var domain = registry.Domain;
        var admins = new HashSet<string>(server.Options.Admin.Users, StringComparer.Ordinal);
        var creators = new HashSet<string>(options.Creators.Select(c => Jid.Parse(c).Bare.ToString()), StringComparer.Ordinal);
        bool IsAdmin(Jid user) => user.Domain == domain && admins.Contains(user.Bare.ToString());
        bool MayCreate(Jid user) => options.RoomCreation switch
        {
            RoomCreation.Restricted => IsAdmin(user) || creators.Contains(user.Bare.ToString()),
            _ => user.Domain == domain && user.Local is not null,
        };
        var service = new MucService(jid, options, () => server, MayCreate, IsAdmin);
        service.AttachMetrics(server.Metrics.Meter);
        service.StartArchive(server.Metrics.Meter);
        _service = service;
        registry.ServerStopping += service.ShutdownAsync;
        registry.AddHostedDomain(jid.Domain, (stanza, from, to, _) => service.HandleStanzaAsync(stanza, from, to));
        registry.AddDiscoItem(new DiscoItem(jid.Domain, options.Name));
        logger.LogInformation("Group chat (XEP-0045) at {Service}", jid);
    }
}

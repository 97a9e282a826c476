using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Tendril.Server.Features.Blocking;
using Tendril.Server.Features.Carbons;
using Tendril.Server.Features.ClientState;
using Tendril.Server.Features.ContactAddresses;
using Tendril.Server.Features.Disco;
using Tendril.Server.Features.ExternalServices;
using Tendril.Server.Features.LastActivity;
using Tendril.Server.Features.Mam;
using Tendril.Server.Features.Offline;
using Tendril.Server.Features.Ping;
using Tendril.Server.Features.PrivateStorage;
using Tendril.Server.Features.Push;
using Tendril.Server.Features.Registration;
using Tendril.Server.Features.Roster;
using Tendril.Server.Features.Session;
using Tendril.Server.Features.StreamManagement;
using Tendril.Server.Features.Time;
using Tendril.Server.Features.VCard;
using Tendril.Server.Features.Version;
using Tendril.Server.Hosting;

namespace Tendril.Server.Features;

public static class ImServiceCollectionExtensions
{
    /// <summary>
    /// The instant-messaging features (RFC 6121 and the XEPs of XEP-0479's Core, IM and Mobile categories but pubsub), in
    /// the order they register (the order of hooks; stanza filters run by their <see cref="StanzaStage"/>): service
    /// discovery, ping, version, sessions, stream management and client state, time, last activity, vCards, private
    /// XML, blocking, the archive, carbons, contact addresses, external services, registration, push, then rosters with
    /// presence and offline storage. HTTP upload registers apart (<see cref="Upload.HttpUploadExtensions.AddHttpUpload"/>).
    /// </summary>
    public static IServiceCollection AddImFeatures(this IServiceCollection services)
    {
        services.AddServerFeature<DiscoFeature>();
        services.AddServerFeature<PingFeature>();
        services.AddServerFeature<VersionFeature>();
        services.AddServerFeature<LegacySessionFeature>();
        services.AddServerFeature<StreamManagementFeature>();
        services.AddServerFeature<ClientStateIndicationFeature>();
        services.AddServerFeature<EntityTimeFeature>();
        services.AddServerFeature<LastActivityFeature>();
        services.AddServerFeature<VCardFeature>().AddFeatureOptions<VCardOptions>();
        services.AddServerFeature<PrivateStorageFeature>().AddFeatureOptions<PrivateStorageOptions>();
        services.AddServerFeature<BlockingFeature>();
        services.AddServerFeature<MamFeature>().AddFeatureOptions<MamOptions>();
        services.AddServerFeature<CarbonsFeature>();
        services.AddServerFeature<ContactAddressesFeature>().AddFeatureOptions<ContactAddressesOptions>();
        services.AddServerFeature<ExternalServicesFeature>().AddFeatureOptions<ExternalServicesOptions>();
        services.AddServerFeature<RegistrationFeature>().AddFeatureOptions<RegistrationOptions>();
        services.AddServerFeature<PushFeature>().AddFeatureOptions<PushOptions>();
        services.AddServerFeature<RosterFeature>().AddFeatureOptions<RosterOptions>();
        services.AddServerFeature<OfflineFeature>().AddFeatureOptions<OfflineOptions>();
        services.TryAddSingleton<RosterQueries>();
        return services;
    }
}

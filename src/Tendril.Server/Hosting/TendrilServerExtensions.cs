using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tendril.Server.Configuration;
using Tendril.Server.Diagnostics;
using Tendril.Server.Admin;
using Tendril.Server.Features.Upload;
using Tendril.Server.Features;
using Tendril.Server.Features.Blocking;
using Tendril.Server.Features.Carbons;
using Tendril.Server.Features.Mam;
using Tendril.Server.Features.ContactAddresses;
using Tendril.Server.Features.Disco;
using Tendril.Server.Features.ExternalServices;
using Tendril.Server.Features.LastActivity;
using Tendril.Server.Features.Offline;
using Tendril.Server.Features.Ping;
using Tendril.Server.Features.PrivateStorage;
using Tendril.Server.Features.Roster;
using Tendril.Server.Features.PubSub;
using Tendril.Server.Features.Session;
using Tendril.Server.Features.Time;
using Tendril.Server.Features.VCard;
using Tendril.Server.Features.Version;
using Tendril.Server.Tls;
using Tendril.Storage;

namespace Tendril.Server.Hosting;

public static class TendrilServerExtensions
{
    /// <summary>
    /// Registers the XMPP server (listeners, streams, router, features) as a hosted service, bound to the
    /// <c>Tendril</c> configuration section. The caller registers an <see cref="IStorage"/> singleton.
    /// </summary>
    /// <param name="reloadSource">
    /// Builds a fresh configuration from the same sources for reloads (SIGHUP, admin); null reloads
    /// <paramref name="configuration"/> in place.
    /// </param>
    public static IServiceCollection AddTendrilServer(this IServiceCollection services, IConfiguration configuration, Func<IConfiguration>? reloadSource = null)
    {
        services.TryAddSingleton(sp =>
        {
            var options = TendrilOptionsBinder.Bind(configuration, sp.GetServices<FeatureOptionsType>());
            options.Validate();
            return options;
        });
        services.TryAddSingleton(TimeProvider.System);
        services.AddTendrilFeatures();
        services.AddHttpEndpoints<Transport.WebSockets.WebTransportEndpoints>();
        services.AddHttpEndpoints<Transport.Bosh.BoshEndpoints>();
        services.AddHttpEndpoints<Web.DemoEndpoints>();
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<TendrilOptions>();
            var loggerFactory = sp.GetRequiredService<ILoggerFactory>();
            var certificate = new CertificateProvider(options, loggerFactory.CreateLogger<CertificateProvider>()).GetCertificate();
            return new XmppServer(options, sp.GetRequiredService<IStorage>(), certificate, sp.GetServices<IServerFeature>(),
                loggerFactory, sp.GetRequiredService<TimeProvider>(), sp.GetService<Cluster.IClusterBackend>());
        });
        services.AddHostedService<XmppServerHostedService>();
        services.TryAddSingleton(sp => new MetricsCollector([sp.GetRequiredService<XmppServer>().Metrics.Meter], StorageMetrics.MeterName));
        services.AddHttpEndpoints<DiagnosticsEndpoints>();
        services.TryAddSingleton<RecentLogBuffer>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, RecentLogProvider>());
        services.TryAddSingleton(sp => new ConfigurationReloader(sp.GetRequiredService<XmppServer>(), configuration, reloadSource, sp.GetRequiredService<ILoggerFactory>(),
            [.. sp.GetServices<FeatureOptionsType>()]));
        services.AddHostedService<ReloadSignalService>();
        services.AddTendrilAdmin();
        return services;
    }

    /// <summary>
    /// Every XMPP feature of the server, in the order they register (the order of hooks; stanza filters run by their StanzaStage): the core
    /// ones, rosters and presence, offline storage, publish-subscribe, PEP and its conversions, HTTP upload. The one
    /// place a new feature is added; <see cref="AddTendrilServer"/> and the test server both call it. Needs
    /// <see cref="TendrilOptions"/> in the container.
    /// </summary>
    public static IServiceCollection AddTendrilFeatures(this IServiceCollection services)
    {
        services.AddCoreFeatures();
        services.AddServerFeature<RosterFeature>();
        services.AddServerFeature<OfflineFeature>().AddFeatureOptions<OfflineOptions>(OfflineOptions.Section);
        services.TryAddSingleton<RosterQueries>();
        services.AddPubSub();
        services.AddServerFeature<Features.Pep.PepFeature>();
        services.AddServerFeature<Features.Conversion.AvatarConversionFeature>();
        services.AddServerFeature<Features.Conversion.BookmarkSyncFeature>();
        services.AddHttpUpload();
        services.AddServerFeature<Transport.Components.ComponentFeature>();
        return services;
    }

    /// <summary>The features every server has (RFC 6120 core and XEP-0030/0092/0199).</summary>
    public static IServiceCollection AddCoreFeatures(this IServiceCollection services)
    {
        services.AddServerFeature<DiscoFeature>();
        services.AddServerFeature<PingFeature>();
        services.AddServerFeature<VersionFeature>();
        services.AddServerFeature<LegacySessionFeature>();
        services.AddServerFeature<Features.StreamManagement.StreamManagementFeature>();
        services.AddServerFeature<Features.ClientState.ClientStateIndicationFeature>();
        services.AddServerFeature<EntityTimeFeature>();
        services.AddServerFeature<LastActivityFeature>();
        services.AddServerFeature<VCardFeature>().AddFeatureOptions<VCardOptions>(VCardOptions.Section);
        services.AddServerFeature<PrivateStorageFeature>();
        services.AddServerFeature<BlockingFeature>();
        services.AddServerFeature<MamFeature>().AddFeatureOptions<MamOptions>(MamOptions.Section);
        services.AddServerFeature<CarbonsFeature>();
        services.AddServerFeature<ContactAddressesFeature>().AddFeatureOptions<ContactAddressesOptions>(ContactAddressesOptions.Section);
        services.AddServerFeature<ExternalServicesFeature>().AddFeatureOptions<ExternalServicesOptions>(ExternalServicesOptions.Section);
        services.AddServerFeature<Features.Registration.RegistrationFeature>().AddFeatureOptions<Features.Registration.RegistrationOptions>(Features.Registration.RegistrationOptions.Section);
        services.AddServerFeature<Features.Push.PushFeature>().AddFeatureOptions<Features.Push.PushOptions>(Features.Push.PushOptions.Section);
        return services;
    }

    /// <summary>Declares a feature's options, bound from <c>Tendril:{section}</c> and validated with the rest.</summary>
    public static IServiceCollection AddFeatureOptions<T>(this IServiceCollection services, string section) where T : class, IFeatureOptions, new()
    {
        if (!services.Any(d => d.ServiceType == typeof(FeatureOptionsType) && d.ImplementationInstance is FeatureOptionsType t && t.Type == typeof(T)))
        {
            services.AddSingleton(FeatureOptionsType.Of<T>(section));
        }
        return services;
    }

    /// <summary>The feature options types a service collection declares (for binding outside the container, e.g. the CLI).</summary>
    public static IReadOnlyList<FeatureOptionsType> FeatureOptionsTypes(this IServiceCollection services) =>
        [.. services.Select(d => d.ImplementationInstance).OfType<FeatureOptionsType>()];

    /// <summary>The one extension point: a feature class, registered once.</summary>
    public static IServiceCollection AddServerFeature<T>(this IServiceCollection services) where T : class, IServerFeature
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServerFeature, T>());
        return services;
    }
}

/// <summary>Starts the storage and the server with the host; stops the server gracefully (system-shutdown to every stream).</summary>
internal sealed class XmppServerHostedService(XmppServer server, IStorage storage, MetricsCollector metrics) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _ = metrics; // created with the server so counters count from the first connection
        await storage.InitializeAsync(cancellationToken).ConfigureAwait(false);
        await server.StartAsync().ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => server.StopAsync(server.DrainTimeout);
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tendril.Server.Configuration;
using Tendril.Server.Diagnostics;
using Tendril.Server.Admin;
using Tendril.Server.Features;
using Tendril.Server.Tls;
using Tendril.Storage;

namespace Tendril.Server.Hosting;

public static class TendrilServerExtensions
{
    /// <summary>
    /// Registers the XMPP server (listeners, streams, router) as a hosted service, bound to the <c>Tendril</c>
    /// configuration section. The caller registers an <see cref="IStorage"/> singleton and the features (the host's
    /// <c>AddTendrilFeatures</c>).
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

    /// <summary>Declares a feature's options, bound from <c>Tendril:{section}</c> (the type's name without "Options") and validated with the rest.</summary>
    public static IServiceCollection AddFeatureOptions<T>(this IServiceCollection services) where T : class, IFeatureOptions, new()
    {
        if (!services.Any(d => d.ServiceType == typeof(FeatureOptionsType) && d.ImplementationInstance is FeatureOptionsType t && t.Type == typeof(T)))
        {
            services.AddSingleton(FeatureOptionsType.Of<T>());
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

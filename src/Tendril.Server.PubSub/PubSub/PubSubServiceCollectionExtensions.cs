using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Tendril.Server.Configuration;
using Tendril.Server.Features;
using Tendril.Server.Hosting;

namespace Tendril.Server.Features.PubSub;

public static class PubSubServiceCollectionExtensions
{
    /// <summary>The pubsub feature (one instance, shared by the XMPP side and the HTTP API) and its HTTP endpoints.</summary>
    public static IServiceCollection AddPubSub(this IServiceCollection services)
    {
        services.AddFeatureOptions<PubSubOptions>();
        services.TryAddSingleton(sp => new PubSubFeature(sp.GetRequiredService<TendrilOptions>().PubSub));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServerFeature, PubSubFeature>(sp => sp.GetRequiredService<PubSubFeature>()));
        services.AddHttpEndpoints<PubSubHttpEndpoints>();
        return services;
    }
}

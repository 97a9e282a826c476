using Microsoft.Extensions.DependencyInjection;
using Tendril.Server.Features.Muc;
using Tendril.Server.Hosting;

namespace Tendril.Server.Features;

public static class MucFeaturesServiceCollectionExtensions
{
    /// <summary>Multi-user chat (XEP-0045): the group chat service and its options.</summary>
    public static IServiceCollection AddMucFeatures(this IServiceCollection services)
    {
        services.AddServerFeature<MucFeature>().AddFeatureOptions<MucOptions>();
        return services;
    }
}

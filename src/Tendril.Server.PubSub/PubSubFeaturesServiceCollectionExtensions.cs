using Microsoft.Extensions.DependencyInjection;
using Tendril.Server.Features.Conversion;
using Tendril.Server.Features.Pep;
using Tendril.Server.Features.PubSub;
using Tendril.Server.Hosting;

namespace Tendril.Server.Features;

public static class PubSubFeaturesServiceCollectionExtensions
{
    /// <summary>
    /// Publish-subscribe (XEP-0060: the pubsub services and their HTTP API), PEP (XEP-0163) and the conversions between
    /// PEP and the older stores (XEP-0398 avatars, XEP-0411 bookmarks), in that order.
    /// </summary>
    public static IServiceCollection AddPubSubFeatures(this IServiceCollection services)
    {
        services.AddPubSub();
        services.AddServerFeature<PepFeature>();
        services.AddServerFeature<AvatarConversionFeature>();
        services.AddServerFeature<BookmarkSyncFeature>();
        return services;
    }
}

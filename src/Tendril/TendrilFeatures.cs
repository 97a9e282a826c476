using Microsoft.Extensions.DependencyInjection;
using Tendril.Server.Features;
using Tendril.Server.Features.Upload;
using Tendril.Server.Hosting;
using Tendril.Server.Transport.Components;

namespace Tendril;

/// <summary>The composition of the server: which features it runs.</summary>
public static class TendrilFeatures
{
    /// <summary>
    /// Every XMPP feature of the server, in the order they register (the order of hooks; stanza filters run by their
    /// StanzaStage): instant messaging (Tendril.Server.Im), publish-subscribe and PEP (Tendril.Server.PubSub), group chat (Tendril.Server.Muc), HTTP
    /// upload, external components. The one place a feature project is added; the host and the test server both call
    /// it. Needs <c>TendrilOptions</c> in the container.
    /// </summary>
    public static IServiceCollection AddTendrilFeatures(this IServiceCollection services)
    {
        services.AddImFeatures();
        services.AddPubSubFeatures();
        services.AddMucFeatures();
        services.AddHttpUpload();
        services.AddServerFeature<ComponentFeature>();
        return services;
    }
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Tendril.Server.Hosting;

public static class TendrilServerExtensions
{
    /// <summary>
    /// Registers the XMPP server (listeners, streams, router, features) as a hosted service, bound to the
    /// <c>Tendril</c> configuration section. The caller registers an <see cref="Tendril.Storage.IStorage"/> singleton.
    /// </summary>
    public static IServiceCollection AddTendrilServer(this IServiceCollection services, IConfiguration configuration)
        => throw new NotImplementedException();
}

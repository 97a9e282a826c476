using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Tendril.Server.Hosting;

/// <summary>
/// A feature that also speaks HTTP on the server's HTTP port (the pubsub publish API, later BOSH, WebSocket, the
/// admin page). Registered with <c>services.AddHttpEndpoints&lt;T&gt;()</c>; mapped by the host with
/// <see cref="HttpEndpointExtensions.MapTendrilEndpoints"/>.
/// </summary>
public interface IHttpEndpoints
{
    void Map(IEndpointRouteBuilder endpoints);
}

public static class HttpEndpointExtensions
{
    public static IServiceCollection AddHttpEndpoints<T>(this IServiceCollection services) where T : class, IHttpEndpoints
    {
        services.AddSingleton<IHttpEndpoints, T>();
        return services;
    }

    /// <summary>Maps every registered <see cref="IHttpEndpoints"/>.</summary>
    public static IEndpointRouteBuilder MapTendrilEndpoints(this IEndpointRouteBuilder endpoints)
    {
        foreach (var e in endpoints.ServiceProvider.GetServices<IHttpEndpoints>()) e.Map(endpoints);
        return endpoints;
    }
}

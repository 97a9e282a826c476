using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tendril.Server.Hosting;
using Tendril.Storage;

namespace Tendril.Server.Diagnostics;

/// <summary><c>GET /metrics</c> (Prometheus text format 0.0.4) and <c>GET /health</c> (JSON; 503 when unhealthy).</summary>
public sealed class DiagnosticsEndpoints(XmppServer server, MetricsCollector metrics) : IHttpEndpoints
{
    public const string PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

    public void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/metrics", (HttpContext context) => MayReadMetrics(context.Connection.RemoteIpAddress, server.Options.Http.MetricsAllow)
            ? Results.Text(metrics.Scrape(), PrometheusContentType)
            : Results.Text("Metrics are served to loopback and Tendril:Http:MetricsAllow only.\n", "text/plain; charset=utf-8", statusCode: StatusCodes.Status403Forbidden));
        endpoints.MapGet("/health", HealthAsync);
    }

    /// <summary>Loopback, or a network of Tendril:Http:MetricsAllow ("*": anyone). /health stays open: load balancers ask it.</summary>
    internal static bool MayReadMetrics(System.Net.IPAddress? address, IReadOnlyList<string> allow)
    {
        if (address is null) return false;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (System.Net.IPAddress.IsLoopback(address)) return true;
        foreach (var network in allow)
        {
            if (network == "*" || (System.Net.IPNetwork.TryParse(network, out var n) && n.Contains(address))) return true;
        }
        return false;
    }

    private async Task<IResult> HealthAsync(CancellationToken cancellationToken)
    {
        var storage = await StorageReachableAsync(cancellationToken).ConfigureAwait(false);
        var status = server.IsStopping ? "stopping" : storage ? "ok" : "degraded";
        var body = new
        {
            status,
            uptimeSeconds = Math.Round((server.Time.GetUtcNow() - server.StartedAt).TotalSeconds, 1),
            domain = server.Domain,
            connections = server.Heartbeat.Count,
            sessions = server.Sessions.Count,
            storage = new { reachable = storage },
        };
        return Results.Json(body, statusCode: status == "ok" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>One cheap read through the storage queues, with a 2-second limit.</summary>
    private async Task<bool> StorageReachableAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await server.Storage.Accounts.FindAsync(server.Domain, "health-check", timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is StorageException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
    }
}

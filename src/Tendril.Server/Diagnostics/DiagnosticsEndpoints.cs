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
        endpoints.MapGet("/metrics", () => Results.Text(metrics.Scrape(), PrometheusContentType));
        endpoints.MapGet("/health", HealthAsync);
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

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tendril.Server.Hosting;
using Tendril.Storage;

namespace Tendril;

/// <summary><c>tendril serve</c>: the generic host with console logging, the configured storage and the XMPP server.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(CliContext context, string? configOption, CancellationToken cancellationToken)
    {
        var configuration = CliConfiguration.Build(configOption);
        var options = CliConfiguration.Bind(configuration);
        CliConfiguration.NormalizedDomain(options);

        // One process serves XMPP (its own listeners) and HTTP (Kestrel on Tendril:Http). The empty builder takes
        // only our configuration sources: the JSON file and environment variables.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = "tendril",
            ContentRootPath = Directory.GetCurrentDirectory(),
        });
        builder.Configuration.AddConfiguration(configuration);
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (!options.Http.Enabled) return;
            var address = options.Http.Address switch
            {
                "any" or "" or "*" => System.Net.IPAddress.IPv6Any,
                "loopback" or "localhost" => System.Net.IPAddress.Loopback,
                var a => System.Net.IPAddress.Parse(a),
            };
            // HTTP connections count against the same connection limits as the XMPP listeners (docs/security.md).
            Tendril.Server.XmppServer Server() => kestrel.ApplicationServices.GetRequiredService<Tendril.Server.XmppServer>();
            HttpConnectionLimits.Apply(kestrel.Limits, Tendril.Server.Transport.ConnectionLimits.Resolve(options.Limits));
            kestrel.Listen(address, options.Http.Port, listen => listen.UseTendrilConnectionLimits(Server, "http"));
            if (options.Http.HttpsEnabled)
            {
                // The server's TLS certificate, asked for on every handshake: a config reload that swaps the
                // certificate applies to new HTTPS connections, established ones keep theirs.
                kestrel.Listen(address, options.Http.HttpsPort, listen => listen.UseTendrilConnectionLimits(Server, "https").UseHttps(https =>
                {
                    https.ServerCertificateSelector = (_, _) => Server().Certificate;
                }));
            }
        });
        builder.Services.AddRouting();
        if (!options.Http.Enabled)
        {
            // Without endpoints Kestrel would fall back to localhost:5000: replace the server with one that serves nothing.
            builder.Services.AddSingleton<Microsoft.AspNetCore.Hosting.Server.IServer, NoHttpServer>();
        }

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        // The host logs a failed start ("Hosting failed to start") with the whole stack trace; a port in use is an
        // operator's error, reported below in one line. Any other failure is logged below with its stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Logging.AddConfiguration(configuration.GetSection("Logging")); // after the defaults so it overrides them
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
            console.IncludeScopes = false;
        });

        StorageFactory.Validate(options); // a malformed PostgreSQL connection string fails here, before the host starts
        builder.Services.AddSingleton<IStorage>(services => StorageFactory.Create(options, services.GetRequiredService<ILoggerFactory>()));
        if (options.Cluster.Enabled)
        {
            // One of several nodes serving the domain through Redis (docs/cluster.md); the server core sees it through IClusterBackend.
            builder.Services.AddSingleton(services => new Tendril.Cluster.RedisCluster(options.Cluster, services.GetRequiredService<ILoggerFactory>()));
            builder.Services.AddSingleton<Tendril.Server.Cluster.IClusterBackend>(services => services.GetRequiredService<Tendril.Cluster.RedisCluster>());
            builder.Services.AddSingleton<Tendril.Server.Admin.IAdminSection>(services => new Tendril.Cluster.ClusterAdminSection(services.GetRequiredService<Tendril.Cluster.RedisCluster>()));
        }
        builder.Services.AddTendrilServer(configuration, reloadSource: () => CliConfiguration.Build(configOption)).AddTendrilFeatures();

        // Disposing the host disposes the storage singleton (IAsyncDisposable), draining its queues.
        var host = builder.Build();
        host.UseWebSockets(); // XMPP over WebSocket (RFC 7395), mapped with the other endpoints
        host.UseRouting();
        host.MapTendrilEndpoints();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tendril");
        try
        {
            await host.Services.GetRequiredService<IStorage>().InitializeAsync(cancellationToken);
            logger.LogInformation("Tendril starting for {Domain} (data folder {DataDirectory}, storage {Storage})", options.Domain,
                Path.GetFullPath(options.DataDirectory), StorageFactory.Describe(options));
            await host.RunAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is StorageException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            var message = DescribeHttpBindFailure(e) ?? e.Message;
            logger.LogCritical("Tendril could not start: {Message}", message);
            await context.Stderr.WriteLineAsync($"tendril: {message}");
            return ExitCodes.UserError;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogCritical(e, "Tendril failed: {Message}", e.Message);
            await context.Stderr.WriteLineAsync($"tendril: {e}");
            return ExitCodes.UserError;
        }
        finally
        {
            // RunAsync disposes the host too; disposing again is harmless. The container must be disposed
            // asynchronously because the storage is IAsyncDisposable only.
            await host.DisposeAsync();
        }
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Kestrel's bind failure ("Failed to bind to address http://127.0.0.1:5280: address already in use.", a
    /// SocketException inside) in the words of the XMPP listeners' (<see cref="Tendril.Server.Transport.ListenerBindException"/>):
    /// which listener, address and port, and the setting to change. Null for any other exception.
    /// </summary>
    internal static string? DescribeHttpBindFailure(Exception e)
    {
        if (e is not IOException || e is Tendril.Server.Transport.ListenerBindException) return null;
        System.Net.Sockets.SocketException? socket = null;
        for (var inner = e.InnerException; inner is not null && socket is null; inner = inner.InnerException) socket = inner as System.Net.Sockets.SocketException;
        var match = System.Text.RegularExpressions.Regex.Match(e.Message, @"(https?)://(\S+):(\d+)");
        if (socket is null || !match.Success) return null;
        var https = match.Groups[1].Value == "https";
        return Tendril.Server.Transport.ListenerBindException.Describe(https ? "HTTPS" : "HTTP", match.Groups[2].Value + ":" + match.Groups[3].Value,
            socket.SocketErrorCode, https ? "Tendril:Http:HttpsPort" : "Tendril:Http:Port", "Tendril:Http:Address");
    }
}

/// <summary>The HTTP server when <c>Tendril:Http:Enabled</c> is false: starts nothing, listens nowhere.</summary>
internal sealed class NoHttpServer : Microsoft.AspNetCore.Hosting.Server.IServer
{
    public Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();

    public Task StartAsync<TContext>(Microsoft.AspNetCore.Hosting.Server.IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() { }
}

using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tendril.Server.Configuration;
using Tendril.Server.Tls;

namespace Tendril.Server.Hosting;

/// <summary>
/// Re-reads the configuration (file and environment), validates it, loads the certificate it names and applies it
/// with <see cref="XmppServer.Reload"/> — all or nothing: a configuration that fails anywhere is refused with one
/// error log line and the running one stays in force. Triggered by SIGHUP (<see cref="ReloadSignalService"/>) and the
/// admin page/API. Log levels follow the reloaded <c>Logging</c> section.
/// </summary>
public sealed class ConfigurationReloader
{
    private readonly XmppServer _server;
    private readonly IConfiguration _live;
    private readonly Func<IConfiguration>? _fresh;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggerFactory;
    private readonly Lock _gate = new();

    private readonly IReadOnlyList<FeatureOptionsType> _featureOptions;

    /// <param name="fresh">Builds a new configuration from the same sources; null reloads <paramref name="live"/> in place.</param>
    /// <param name="featureOptions">The features' options types (bound with the core's).</param>
    public ConfigurationReloader(XmppServer server, IConfiguration live, Func<IConfiguration>? fresh, ILoggerFactory loggerFactory, IReadOnlyList<FeatureOptionsType>? featureOptions = null)
    {
        _server = server;
        _live = live;
        _fresh = fresh;
        _loggerFactory = loggerFactory;
        _featureOptions = featureOptions ?? [];
        _logger = loggerFactory.CreateLogger("Tendril.Reload");
    }

    /// <summary>Reloads; <paramref name="trigger"/> names who asked (for the log).</summary>
    public ReloadResult Reload(string trigger)
    {
        lock (_gate)
        {
            var result = TryReload();
            if (!result.Success)
            {
                _logger.LogError("Configuration reload ({Trigger}) refused: {Error}. The previous configuration stays in force.", trigger, result.Error);
                return result;
            }
            _logger.LogInformation("Configuration reloaded ({Trigger}); changed: {Changed}", trigger,
                result.Changed.Count == 0 ? "nothing" : string.Join(", ", result.Changed));
            if (result.RestartRequired.Count > 0)
            {
                _logger.LogWarning("Configuration reload ({Trigger}): {Settings} changed but take effect only at restart", trigger, string.Join(", ", result.RestartRequired));
            }
            return result;
        }
    }

    private ReloadResult TryReload()
    {
        IConfiguration configuration;
        try
        {
            if (_fresh is not null) configuration = _fresh();
            else
            {
                if (_live is IConfigurationRoot root) root.Reload();
                configuration = _live;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return ReloadResult.Refused("cannot read the configuration: " + Flatten(e));
        }
        TendrilOptions options;
        try
        {
            options = TendrilOptionsBinder.Bind(configuration, _featureOptions);
        }
        catch (InvalidOperationException e)
        {
            return ReloadResult.Refused(Flatten(e));
        }
        try
        {
            options.Validate();
        }
        catch (InvalidOperationException e)
        {
            return ReloadResult.Refused(e.Message);
        }
        if (Jid(options.Domain) != _server.Domain)
        {
            return ReloadResult.Refused($"Tendril:Domain cannot change while running ({_server.Domain} -> {options.Domain}); restart the server to serve another domain.");
        }
        System.Security.Cryptography.X509Certificates.X509Certificate2 certificate;
        System.Net.Security.SslStreamCertificateContext context;
        try
        {
            var provider = new CertificateProvider(options, _loggerFactory.CreateLogger<CertificateProvider>());
            certificate = provider.GetCertificate();
            context = provider.CreateStreamCertificateContext();
        }
        catch (InvalidOperationException e)
        {
            return ReloadResult.Refused(e.Message);
        }
        var result = _server.Reload(options, certificate, context);
        if (result.Success && _fresh is not null && _live is IConfigurationRoot live)
        {
            // The live configuration feeds the logging filters: reloading it applies new log levels.
            try
            {
                live.Reload();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _logger.LogWarning("Log levels were not reloaded: {Error}", Flatten(e));
            }
        }
        return result;
    }

    private static string Jid(string domain)
    {
        try
        {
            return Tendril.Protocol.Jid.Create(null, domain).Domain;
        }
        catch (FormatException)
        {
            return domain;
        }
    }

    private static string Flatten(Exception e)
    {
        var messages = new List<string>();
        for (var current = e; current is not null; current = current.InnerException)
            if (!messages.Contains(current.Message)) messages.Add(current.Message);
        return string.Join(" ", messages);
    }
}

/// <summary>Reloads the configuration on SIGHUP (Unix), as daemons do.</summary>
internal sealed class ReloadSignalService(ConfigurationReloader reloader) : IHostedService, IDisposable
{
    private PosixSignalRegistration? _registration;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsWindows())
        {
            _registration = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // not the default (terminate)
                _ = Task.Run(() => reloader.Reload("SIGHUP"));
            });
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _registration?.Dispose();
        _registration = null;
    }
}

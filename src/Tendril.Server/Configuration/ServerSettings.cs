using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Tendril.Xml;

namespace Tendril.Server.Configuration;

/// <summary>
/// One immutable snapshot of what can be reloaded: the options, the parser limits derived from them and the TLS
/// certificate. <see cref="XmppServer"/> holds it in a volatile field and swaps it whole on reload, so a reader sees
/// either the old snapshot or the new one, never a mix.
/// </summary>
internal sealed class ServerSettings
{
    public ServerSettings(TendrilOptions options, X509Certificate2 certificate, SslStreamCertificateContext certificateContext)
    {
        Options = options;
        Certificate = certificate;
        CertificateContext = certificateContext;
        ParserOptions = new XmlParserOptions
        {
            MaxStanzaBytes = options.Limits.MaxStanzaBytes,
            MaxDepth = options.Limits.MaxDepth,
            MaxAttributes = options.Limits.MaxAttributes,
        };
        ConnectionLimits = Transport.ConnectionLimits.Resolve(options.Limits);
    }

    /// <summary>The connection limits, resolved against the process's descriptor limit.</summary>
    public Transport.ConnectionLimits ConnectionLimits { get; }

    public TendrilOptions Options { get; }

    public X509Certificate2 Certificate { get; }

    public SslStreamCertificateContext CertificateContext { get; }

    public XmlParserOptions ParserOptions { get; }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>The top-level sections (C2s, Limits, Mam, …) whose values differ.</summary>
    public static List<string> ChangedSections(TendrilOptions old, TendrilOptions now)
    {
        var changed = new List<string>();
        var before = old.Sections();
        foreach (var (name, value) in now.Sections())
        {
            var a = before.TryGetValue(name, out var previous) && previous is not null ? JsonSerializer.Serialize(previous, previous.GetType(), Json) : "";
            var b = value is null ? "" : JsonSerializer.Serialize(value, value.GetType(), Json);
            if (a != b) changed.Add(name);
        }
        return changed;
    }

    /// <summary>Changed settings that only a restart applies (listeners, data folder, storage).</summary>
    public static List<string> RestartRequired(TendrilOptions old, TendrilOptions now)
    {
        var restart = new List<string>();
        if (old.DataDirectory != now.DataDirectory) restart.Add("DataDirectory");
        if (old.C2s.Address != now.C2s.Address || old.C2s.Port != now.C2s.Port || old.C2s.DirectTlsPort != now.C2s.DirectTlsPort
            || old.C2s.DirectTlsEnabled != now.C2s.DirectTlsEnabled) restart.Add("C2s listeners");
        if (old.Http.Enabled != now.Http.Enabled || old.Http.Address != now.Http.Address || old.Http.Port != now.Http.Port
            || old.Http.HttpsEnabled != now.Http.HttpsEnabled || old.Http.HttpsPort != now.Http.HttpsPort) restart.Add("Http listener");
        if (old.Storage.Provider != now.Storage.Provider || old.Storage.SqlitePath != now.Storage.SqlitePath
            || old.Storage.PostgresConnectionString != now.Storage.PostgresConnectionString || old.Storage.PostgresPassword != now.Storage.PostgresPassword) restart.Add("Storage");
        if (old.Cluster.Enabled != now.Cluster.Enabled || old.Cluster.Redis != now.Cluster.Redis || old.Cluster.RedisPassword != now.Cluster.RedisPassword
            || old.Cluster.NodeId != now.Cluster.NodeId || old.Cluster.HeartbeatIntervalMs != now.Cluster.HeartbeatIntervalMs
            || old.Cluster.NodeTimeoutMs != now.Cluster.NodeTimeoutMs || old.Cluster.OutboxStanzas != now.Cluster.OutboxStanzas) restart.Add("Cluster");
        foreach (var feature in now.Features)
        {
            if (old.Features.FirstOrDefault(f => f.GetType() == feature.GetType()) is { } previous) restart.AddRange(feature.RestartRequired(previous));
        }
        return restart;
    }

}

/// <summary>The outcome of <see cref="XmppServer.Reload"/>.</summary>
public sealed record ReloadResult(bool Success, string? Error, IReadOnlyList<string> Changed, IReadOnlyList<string> RestartRequired)
{
    public static ReloadResult Refused(string error) => new(false, error, [], []);

    public static ReloadResult Applied(IReadOnlyList<string> changed, IReadOnlyList<string> restartRequired) => new(true, null, changed, restartRequired);
}

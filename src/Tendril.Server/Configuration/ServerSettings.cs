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

    /// <summary>The top-level sections (C2s, Limits, …) whose values differ.</summary>
    public static List<string> ChangedSections(TendrilOptions old, TendrilOptions now)
    {
        var changed = new List<string>();
        foreach (var property in typeof(TendrilOptions).GetProperties())
        {
            if (!property.CanRead || property.GetIndexParameters().Length > 0) continue;
            var a = JsonSerializer.Serialize(property.GetValue(old), property.PropertyType, Json);
            var b = JsonSerializer.Serialize(property.GetValue(now), property.PropertyType, Json);
            if (a != b) changed.Add(property.Name);
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
            || old.Storage.PostgresConnectionString != now.Storage.PostgresConnectionString) restart.Add("Storage");
        if (old.Cluster.Enabled != now.Cluster.Enabled || old.Cluster.Redis != now.Cluster.Redis || old.Cluster.RedisPassword != now.Cluster.RedisPassword
            || old.Cluster.NodeId != now.Cluster.NodeId || old.Cluster.HeartbeatIntervalMs != now.Cluster.HeartbeatIntervalMs
            || old.Cluster.NodeTimeoutMs != now.Cluster.NodeTimeoutMs || old.Cluster.OutboxStanzas != now.Cluster.OutboxStanzas) restart.Add("Cluster");
        if (old.Upload.Enabled != now.Upload.Enabled || old.Upload.Domain != now.Upload.Domain) restart.Add("Upload service domain");
        // The pubsub feature builds its services at start (it implements no IReloadableFeature yet).
        if (old.PubSub.Enabled != now.PubSub.Enabled || !old.PubSub.Services.SequenceEqual(now.PubSub.Services)
            || old.PubSub.MaxItems != now.PubSub.MaxItems || old.PubSub.MaxPayloadBytes != now.PubSub.MaxPayloadBytes) restart.Add("PubSub");
        return restart;
    }
}

/// <summary>The outcome of <see cref="XmppServer.Reload"/>.</summary>
public sealed record ReloadResult(bool Success, string? Error, IReadOnlyList<string> Changed, IReadOnlyList<string> RestartRequired)
{
    public static ReloadResult Refused(string error) => new(false, error, [], []);

    public static ReloadResult Applied(IReadOnlyList<string> changed, IReadOnlyList<string> restartRequired) => new(true, null, changed, restartRequired);
}

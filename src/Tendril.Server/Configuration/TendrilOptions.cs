namespace Tendril.Server.Configuration;

/// <summary>
/// The whole server configuration, bound from the <c>Tendril</c> section of the configuration
/// (tendril.json, then environment variables <c>TENDRIL__SECTION__KEY</c>). Every key is documented in docs/configuration.md.
/// </summary>
public sealed class TendrilOptions
{
    public const string SectionName = "Tendril";

    /// <summary>The XMPP domain this server hosts.</summary>
    public string Domain { get; set; } = "localhost";

    /// <summary>Folder for the database, the generated certificate and other state. Relative paths are relative to the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    public C2sOptions C2s { get; set; } = new();

    public TlsOptions Tls { get; set; } = new();

    public SaslOptions Sasl { get; set; } = new();

    public LimitsOptions Limits { get; set; } = new();

    public StorageOptions Storage { get; set; } = new();

    public HttpOptions Http { get; set; } = new();

    public WebSocketBindingOptions WebSocket { get; set; } = new();

    public BoshOptions Bosh { get; set; } = new();

    public AdminOptions Admin { get; set; } = new();

    public DemoOptions Demo { get; set; } = new();

    public StreamManagementOptions StreamManagement { get; set; } = new();

    /// <summary>Several nodes serving one domain through Redis (docs/cluster.md).</summary>
    public ClusterOptions Cluster { get; set; } = new();

    /// <summary>External components (XEP-0114): the listener and each component's domain and secret.</summary>
    public ComponentOptions Components { get; set; } = new();

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Type, IFeatureOptions> _features = new();

    /// <summary>
    /// The options of a feature (declared in its folder, bound from its own section): the bound instance, or the
    /// defaults when none was bound (options built in code). Read at the moment of use, like the rest.
    /// </summary>
    public T Feature<T>() where T : class, IFeatureOptions, new() => (T)_features.GetOrAdd(typeof(T), static _ => new T());

    /// <summary>Replaces a feature's options (binding).</summary>
    public void SetFeature<T>(T options) where T : class, IFeatureOptions, new() => SetFeature(typeof(T), options);

    internal void SetFeature(Type type, IFeatureOptions options) => _features[type] = options;

    /// <summary>Every feature's options present in this snapshot.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IEnumerable<IFeatureOptions> Features => _features.Values;

    /// <summary>
    /// Every section by its configuration name (<c>C2s</c>, <c>Mam</c>, …): the core's, then the features' (a feature
    /// options type is named after its section: <c>MamOptions</c> binds <c>Tendril:Mam</c>). For reports and the admin page.
    /// </summary>
    public IReadOnlyDictionary<string, object?> Sections()
    {
        var sections = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in typeof(TendrilOptions).GetProperties())
        {
            if (property.CanWrite && property.GetIndexParameters().Length == 0) sections[property.Name] = property.GetValue(this);
        }
        foreach (var feature in _features.Values.OrderBy(f => SectionOf(f.GetType()), StringComparer.Ordinal)) sections[SectionOf(feature.GetType())] = feature;
        return sections;
    }

    /// <summary>The section a feature options type binds: its name without "Options".</summary>
    public static string SectionOf(Type featureOptions) =>
        featureOptions.Name.EndsWith("Options", StringComparison.Ordinal) ? featureOptions.Name[..^"Options".Length] : featureOptions.Name;

    /// <summary>Throws <see cref="InvalidOperationException"/> with every problem found.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        foreach (var feature in _features.Values) feature.Validate(problems);
        if (string.IsNullOrWhiteSpace(Domain)) problems.Add("Tendril:Domain is empty");
        if (C2s.Port is < 0 or > 65535) problems.Add("Tendril:C2s:Port must be 0..65535");
        if (C2s.DirectTlsPort is < 0 or > 65535) problems.Add("Tendril:C2s:DirectTlsPort must be 0..65535");
        if (Sasl.ScramIterations < 4096) problems.Add("Tendril:Sasl:ScramIterations must be at least 4096 (RFC 7677 §4)");
        if (Limits.MaxStanzaBytes < 10_000) problems.Add("Tendril:Limits:MaxStanzaBytes must be at least 10000 (RFC 6120 §13.12)");
        if (Limits.MaxDepth < 4) problems.Add("Tendril:Limits:MaxDepth must be at least 4");
        if (Limits.MaxAttributes < 8) problems.Add("Tendril:Limits:MaxAttributes must be at least 8");
        if (StreamManagement.ResumeTimeoutSeconds < 0) problems.Add("Tendril:StreamManagement:ResumeTimeoutSeconds must not be negative");
        foreach (var network in Http.MetricsAllow)
        {
            if (network != "*" && !System.Net.IPNetwork.TryParse(network, out _)) problems.Add($"Tendril:Http:MetricsAllow: '{network}' is not a network (CIDR such as 10.0.0.0/8) or *");
        }
        if (Sasl.FailuresBeforeDelay < 1) problems.Add("Tendril:Sasl:FailuresBeforeDelay must be at least 1");
        if (Sasl.FailuresBeforeBan < 0) problems.Add("Tendril:Sasl:FailuresBeforeBan must be 0 (never) or more");
        if (Sasl.BanMinutes is < 1 or > 10_080) problems.Add("Tendril:Sasl:BanMinutes must be 1..10080");
        if (StreamManagement.MaxUnackedStanzas < 16) problems.Add("Tendril:StreamManagement:MaxUnackedStanzas must be at least 16");
        if (Limits.NegotiationTimeoutSeconds <= 0) problems.Add("Tendril:Limits:NegotiationTimeoutSeconds must be positive");
        if (Limits.IdleSeconds <= 0) problems.Add("Tendril:Limits:IdleSeconds must be positive");
        if (Limits.PingTimeoutSeconds <= 0) problems.Add("Tendril:Limits:PingTimeoutSeconds must be positive");
        if (Limits.OutboundQueueStanzas < 16) problems.Add("Tendril:Limits:OutboundQueueStanzas must be at least 16");
        if (Limits.OutputBudgetBytes < 16 * 1024) problems.Add("Tendril:Limits:OutputBudgetBytes must be at least 16384");
        if (Limits.OutputLimitBytes < Limits.OutputBudgetBytes) problems.Add("Tendril:Limits:OutputLimitBytes must be at least Tendril:Limits:OutputBudgetBytes");
        if (Limits.ReadBytesPerSecond < 0 || (Limits.ReadBytesPerSecond > 0 && Limits.ReadBurstBytes < Limits.MaxStanzaBytes))
            problems.Add("Tendril:Limits:ReadBytesPerSecond must not be negative, and Tendril:Limits:ReadBurstBytes must be at least Tendril:Limits:MaxStanzaBytes");
        if (Limits.StanzasPerSecond < 0 || Limits.StanzaBurst < 1) problems.Add("Tendril:Limits:StanzasPerSecond must not be negative and Tendril:Limits:StanzaBurst at least 1");
        if (Limits.MaxSessionsPerAccount < 0) problems.Add("Tendril:Limits:MaxSessionsPerAccount must not be negative");
        if (Limits.PresencePerSecond < 0 || Limits.PresenceBurst < 1) problems.Add("Tendril:Limits:PresencePerSecond must not be negative and Tendril:Limits:PresenceBurst at least 1");
        if (Limits.DrainSeconds is < 1 or > 300) problems.Add("Tendril:Limits:DrainSeconds must be between 1 and 300");
        if (Limits.MaxConnections < 0) problems.Add("Tendril:Limits:MaxConnections must be 0 (automatic) or positive");
        if (Limits.MaxUnauthenticatedConnections < 0) problems.Add("Tendril:Limits:MaxUnauthenticatedConnections must be 0 (automatic) or positive");
        if (Limits.MaxConnections > 0 && Limits.MaxUnauthenticatedConnections > Limits.MaxConnections)
            problems.Add("Tendril:Limits:MaxUnauthenticatedConnections must not exceed Tendril:Limits:MaxConnections");
        if (Limits.MaxConnectionsPerAddress < 0) problems.Add("Tendril:Limits:MaxConnectionsPerAddress must be 0 (no limit) or positive");
        if (Http.Port is < 0 or > 65535) problems.Add("Tendril:Http:Port must be 0..65535");
        if (Http.HttpsPort is < 0 or > 65535) problems.Add("Tendril:Http:HttpsPort must be 0..65535");
        if (Http.HttpsEnabled && Http.Port != 0 && Http.Port == Http.HttpsPort) problems.Add("Tendril:Http:HttpsPort must differ from Tendril:Http:Port");
        if (!string.IsNullOrEmpty(Http.PublicUrl) && !(Uri.TryCreate(Http.PublicUrl, UriKind.Absolute, out var publicUrl) && publicUrl.Scheme is "http" or "https"))
        {
            problems.Add("Tendril:Http:PublicUrl must be an absolute http(s) URL");
        }
        if (!WebSocket.Path.StartsWith('/')) problems.Add("Tendril:WebSocket:Path must start with '/'");
        if (!Bosh.Path.StartsWith('/')) problems.Add("Tendril:Bosh:Path must start with '/'");
        if (!Demo.Path.StartsWith('/') || Demo.Path.Length < 2) problems.Add("Tendril:Demo:Path must start with '/' and not be '/'");
        if (Bosh.MaxWait is < 1 or > 3600) problems.Add("Tendril:Bosh:MaxWait must be 1..3600 seconds");
        if (Bosh.MaxHold is < 0 or > 10) problems.Add("Tendril:Bosh:MaxHold must be 0..10");
        if (Bosh.Inactivity is < 1 or > 3600) problems.Add("Tendril:Bosh:Inactivity must be 1..3600 seconds");
        if (Bosh.Polling is < 0 or > 600) problems.Add("Tendril:Bosh:Polling must be 0..600 seconds");
        foreach (var user in Admin.Users)
        {
            if (!Tendril.Protocol.Jid.TryParse(user, out var jid) || jid is null || jid.Local is null || jid.Resource is not null)
                problems.Add($"Tendril:Admin:Users: '{user}' is not a bare account JID");
        }
        if (Admin.SessionMinutes <= 0) problems.Add("Tendril:Admin:SessionMinutes must be positive");
        if (Components.Port is < 0 or > 65535) problems.Add("Tendril:Components:Port must be 0..65535");
        var componentDomains = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Components.Services.Count; i++)
        {
            var c = Components.Services[i];
            var key = $"Tendril:Components:Services:{i}";
            if (!Tendril.Protocol.Jid.TryParse(c.Domain, out var jid) || jid is null || !jid.IsDomain) problems.Add($"{key}:Domain '{c.Domain}' is not a domain");
            else if (jid.Domain == Domain.ToLowerInvariant() || !componentDomains.Add(jid.Domain)) problems.Add($"{key}:Domain '{c.Domain}' is the server's own domain or listed twice");
            if (string.IsNullOrEmpty(c.Secret)) problems.Add($"{key}:Secret is empty");
        }
        if (Storage.Provider is not (StorageOptions.Sqlite or StorageOptions.Postgres))
            problems.Add($"Tendril:Storage:Provider '{Storage.Provider}' is not supported (sqlite, postgres)");
        if (Storage.Provider == StorageOptions.Postgres && string.IsNullOrWhiteSpace(Storage.PostgresConnectionString))
            problems.Add("Tendril:Storage:PostgresConnectionString is empty (Provider is postgres)");
        if (Cluster.Enabled && string.IsNullOrWhiteSpace(Cluster.Redis)) problems.Add("Tendril:Cluster:Redis is empty (host:port of the Redis server)");
        if (Cluster.NodeId.Length > 64 || Cluster.NodeId.AsSpan().IndexOfAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") >= 0)
            problems.Add("Tendril:Cluster:NodeId must be at most 64 letters, digits, '-', '_' or '.'");
        if (Cluster.HeartbeatIntervalMs is < 50 or > 60_000) problems.Add("Tendril:Cluster:HeartbeatIntervalMs must be 50..60000");
        if (Cluster.NodeTimeoutMs < 2 * Cluster.HeartbeatIntervalMs) problems.Add("Tendril:Cluster:NodeTimeoutMs must be at least twice HeartbeatIntervalMs");
        if (Cluster.OutboxStanzas is < 16 or > 10_000_000) problems.Add("Tendril:Cluster:OutboxStanzas must be 16..10000000");
        if (problems.Count > 0) throw new InvalidOperationException("Invalid configuration: " + string.Join("; ", problems));
    }
}

public sealed class C2sOptions
{
    /// <summary>Address to listen on: an IP address, or "any" / "loopback".</summary>
    public string Address { get; set; } = "any";

    /// <summary>Client-to-server port with STARTTLS (RFC 6120). 0 picks a free port.</summary>
    public int Port { get; set; } = 5222;

    /// <summary>Direct TLS port (XEP-0368). 0 picks a free port.</summary>
    public int DirectTlsPort { get; set; } = 5223;

    public bool DirectTlsEnabled { get; set; } = true;

    /// <summary>Refuse to authenticate or bind before STARTTLS (RFC 6120 §5.3.1 mandatory-to-negotiate). Default true.</summary>
    public bool RequireTls { get; set; } = true;
}

public sealed class TlsOptions
{
    /// <summary>PEM certificate (chain) file; when empty, a self-signed certificate for the domain is created in the data folder on first start.</summary>
    public string CertificatePath { get; set; } = "";

    /// <summary>PEM private key file for <see cref="CertificatePath"/> (may be the same file).</summary>
    public string KeyPath { get; set; } = "";

    /// <summary>Maximum time for a TLS handshake.</summary>
    public int HandshakeTimeoutSeconds { get; set; } = 10;
}

public sealed class SaslOptions
{
    /// <summary>PBKDF2 iteration count for new SCRAM credentials.</summary>
    public int ScramIterations { get; set; } = 4096;

    /// <summary>Offer SASL PLAIN (only ever over TLS).</summary>
    public bool AllowPlain { get; set; } = true;

    /// <summary>Failed attempts allowed on one stream before it is closed with policy-violation.</summary>
    public int MaxFailures { get; set; } = 3;

    /// <summary>
    /// Failed password checks from one source (any surface: SASL, admin, HTTP APIs) after which its further attempts
    /// are delayed, 100 ms doubling up to 8 s.
    /// </summary>
    public int FailuresBeforeDelay { get; set; } = 5;

    /// <summary>Failed password checks from one source that ban it for <see cref="BanMinutes"/>; 0: never banned.</summary>
    public int FailuresBeforeBan { get; set; } = 20;

    /// <summary>How long a ban lasts, and how long failures are remembered.</summary>
    public int BanMinutes { get; set; } = 60;
}

public sealed class LimitsOptions
{
    public int MaxStanzaBytes { get; set; } = 256 * 1024;
    public int MaxDepth { get; set; } = 48;
    public int MaxAttributes { get; set; } = 64;

    /// <summary>A stream that has not bound a resource after this long is closed with connection-timeout.</summary>
    public int NegotiationTimeoutSeconds { get; set; } = 30;

    /// <summary>An established stream silent this long is sent an XEP-0199 ping.</summary>
    public int IdleSeconds { get; set; } = 300;

    /// <summary>A ping unanswered (and the stream silent) this long closes the stream with connection-timeout.</summary>
    public int PingTimeoutSeconds { get; set; } = 60;

    /// <summary>Stanzas queued to one connection before further stanzas to it bounce with resource-constraint.</summary>
    public int OutboundQueueStanzas { get; set; } = 4096;

    /// <summary>
    /// Bytes (serialized, estimated) queued to one client connection beyond which the server stops reading that
    /// client's input until its queue has drained to half: a client that does not read its answers is slowed down,
    /// not fed without bound (back-pressure).
    /// </summary>
    public int OutputBudgetBytes { get; set; } = 512 * 1024;

    /// <summary>
    /// Bytes queued to one client connection (or kept unacknowledged by XEP-0198) beyond which further stanzas routed
    /// to it bounce with resource-constraint and its own further answers close it with policy-violation. One stanza
    /// alone in the queue always goes out, whatever its size.
    /// </summary>
    public int OutputLimitBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// Bytes a second the server reads from one client connection on average (a token bucket with
    /// <see cref="ReadBurstBytes"/>), like Prosody's mod_limits and ejabberd's shapers: a client sending faster is
    /// slowed (its input is read later), not disconnected. 0: no limit.
    /// </summary>
    public int ReadBytesPerSecond { get; set; } = 1024 * 1024;

    /// <summary>Bytes a client may send at once above <see cref="ReadBytesPerSecond"/>.</summary>
    public int ReadBurstBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Messages and iq requests a second one session may send on average (a token bucket with
    /// <see cref="StanzaBurst"/>); beyond it each is answered with policy-violation (type wait). 0: no limit.
    /// </summary>
    public int StanzasPerSecond { get; set; } = 2000;

    /// <summary>Messages and iq requests a session may send at once above <see cref="StanzasPerSecond"/>.</summary>
    public int StanzaBurst { get; set; } = 10_000;

    /// <summary>
    /// Presence stanzas a second one session may send on average (each may fan out to a whole roster or room; a
    /// token bucket with <see cref="PresenceBurst"/>, which covers joining many rooms at login); beyond it each is
    /// answered with policy-violation (type wait). 0: no limit.
    /// </summary>
    public int PresencePerSecond { get; set; } = 50;

    /// <summary>Presence stanzas a session may send at once above <see cref="PresencePerSecond"/>.</summary>
    public int PresenceBurst { get; set; } = 1000;

    /// <summary>Sessions (bound resources) one account may have at once, on all nodes; beyond it binding answers resource-constraint (RFC 6120 §7.6.2.1). 0: no limit.</summary>
    public int MaxSessionsPerAccount { get; set; } = 100;

    /// <summary>
    /// How long a closing connection (c2s, WebSocket, BOSH, component) may take to write what is queued to it, and how
    /// long a server stop waits for its streams, before they are cut.
    /// </summary>
    public int DrainSeconds { get; set; } = DefaultDrainSeconds;

    /// <summary>The default of <see cref="DrainSeconds"/>, also what a transport not attached to a stream waits.</summary>
    public const int DefaultDrainSeconds = 5;

    /// <summary>
    /// Open client connections of all listeners together (c2s, direct TLS, components, HTTP/BOSH/WebSocket). 0 (the
    /// default): the process's descriptor limit (RLIMIT_NOFILE) less a headroom of a tenth, at least 256; a larger value
    /// is lowered to that. Beyond it, connections are refused with resource-constraint.
    /// </summary>
    public int MaxConnections { get; set; }

    /// <summary>
    /// Streams that have not authenticated yet (any transport). 0 (the default): a quarter of <see cref="MaxConnections"/>.
    /// Beyond it, new streams are refused with resource-constraint.
    /// </summary>
    public int MaxUnauthenticatedConnections { get; set; }

    /// <summary>
    /// Open connections from one source address (an IPv4 address, an IPv6 /64), all listeners together. 0: no limit.
    /// Beyond it, connections from that address are refused with policy-violation.
    /// </summary>
    public int MaxConnectionsPerAddress { get; set; } = 256;

    /// <summary>
    /// Apply <see cref="MaxConnectionsPerAddress"/> to loopback addresses too. Off by default: a proxy or gateway on the
    /// same host brings many clients from one loopback address. The total and unauthenticated limits always apply.
    /// </summary>
    public bool LimitLoopbackPerAddress { get; set; }
}

/// <summary>XEP-0198 stream management and XEP-0352 client state indication.</summary>
public sealed class StreamManagementOptions
{
    /// <summary>How long a session whose connection dropped waits to be resumed (0 disables resumption).</summary>
    public int ResumeTimeoutSeconds { get; set; } = 300;

    /// <summary>Stanzas kept for one session until acknowledged (or while hibernating); beyond, the stream is closed (or stanzas bounce).</summary>
    public int MaxUnackedStanzas { get; set; } = 1000;

    /// <summary>Presence updates and chat-state notifications held per session while the client is inactive (XEP-0352).</summary>
    public int CsiMaxBuffered { get; set; } = 500;
}

public sealed class StorageOptions
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary>Storage backend: "sqlite" (embedded default) or "postgres".</summary>
    public string Provider { get; set; } = Sqlite;

    /// <summary>SQLite database file; relative to the data folder. Default tendril.db.</summary>
    public string SqlitePath { get; set; } = "tendril.db";

    /// <summary>
    /// Npgsql connection string when <see cref="Provider"/> is "postgres", e.g.
    /// <c>Host=db.example.org;Database=tendril;Username=tendril;Password=…</c>. A secret: prefer the environment
    /// (<c>Tendril__Storage__PostgresConnectionString</c>) to the file.
    /// </summary>
    public string PostgresConnectionString { get; set; } = "";

    /// <summary>
    /// The PostgreSQL password, merged into <see cref="PostgresConnectionString"/> (it replaces a Password= there), so
    /// the secret can live in the environment (<c>Tendril__Storage__PostgresPassword</c>) while the rest of the
    /// connection string stays in the file. Empty: the connection string's own (or ~/.pgpass). Never logged.
    /// </summary>
    public string PostgresPassword { get; set; } = "";
}

public sealed class HttpOptions
{
    /// <summary>Serve HTTP (APIs, later BOSH/WebSocket and the admin page) in the same process.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Address to listen on: an IP address, or "any" / "loopback".</summary>
    public string Address { get; set; } = "any";

    /// <summary>HTTP port (Prosody's and ejabberd's customary 5280). 0 picks a free port.</summary>
    public int Port { get; set; } = 5280;

    /// <summary>Also listen with HTTPS (wss:// and https:// BOSH), with the server's TLS certificate (reloadable).</summary>
    public bool HttpsEnabled { get; set; } = true;

    /// <summary>HTTPS port (Prosody's customary 5281). 0 picks a free port.</summary>
    public int HttpsPort { get; set; } = 5281;

    /// <summary>
    /// Count plain-HTTP WebSocket/BOSH connections from a loopback address as secure: for a TLS-terminating reverse
    /// proxy on the same host (and tests). Default false: only HTTPS requests are secure (docs/web.md).
    /// </summary>
    public bool TrustLoopback { get; set; }

    /// <summary>The public base URL (e.g. https://chat.example.com) advertised in host-meta; empty: the request's scheme and host.</summary>
    public string PublicUrl { get; set; } = "";

    /// <summary>
    /// Networks (CIDR, e.g. 10.0.0.0/8) besides loopback that may read /metrics; "*" for anyone. Empty (the default):
    /// loopback only, as Prosody's exporter (issue 19: the metrics were open to every interface).
    /// </summary>
    public List<string> MetricsAllow { get; set; } = [];
}

public sealed class BoshOptions
{
    /// <summary>Serve BOSH (XEP-0124 + XEP-0206) on the HTTP port.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The BOSH endpoint's path.</summary>
    public string Path { get; set; } = "/http-bind";

    /// <summary>The longest a request is held (the client's 'wait' is lowered to this), in seconds.</summary>
    public int MaxWait { get; set; } = 60;

    /// <summary>The most requests held at once (the client's 'hold' is lowered to this).</summary>
    public int MaxHold { get; set; } = 1;

    /// <summary>A session with no request for this long (seconds) is ended.</summary>
    public int Inactivity { get; set; } = 60;

    /// <summary>The shortest interval (seconds) between empty requests when nothing is held (hold=0).</summary>
    public int Polling { get; set; } = 2;

    /// <summary>Origins allowed cross-origin requests (CORS), e.g. https://app.example.com; "*" allows any. Empty: same origin only.</summary>
    public List<string> CorsOrigins { get; set; } = [];
}

public sealed class WebSocketBindingOptions
{
    /// <summary>Serve XMPP over WebSocket (RFC 7395) on the HTTP port.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The WebSocket endpoint's path.</summary>
    public string Path { get; set; } = "/xmpp-websocket";
}

/// <summary>The converse.js demo page (docs/web.md, "Demo web client").</summary>
public sealed class DemoOptions
{
    /// <summary>Serve the demo web client. Off by default.</summary>
    public bool Enabled { get; set; }

    /// <summary>URL path of the demo page.</summary>
    public string Path { get; set; } = "/demo";

    /// <summary>Folder with the demo files (index.html, demo.js, converse/); empty: the <c>demo</c> folder next to the tendril binary.</summary>
    public string Directory { get; set; } = "";
}

public sealed class AdminOptions
{
    /// <summary>Bare JIDs of local accounts allowed into the admin page and API (with their XMPP password). Empty: nobody.</summary>
    public List<string> Users { get; set; } = [];

    /// <summary>How long an admin page login (cookie) lasts.</summary>
    public int SessionMinutes { get; set; } = 60;
}

public sealed class ClusterOptions
{
    /// <summary>Join a cluster of nodes serving the same domain (same Redis, same shared storage).</summary>
    public bool Enabled { get; set; }

    /// <summary>The Redis server, "host:port".</summary>
    public string Redis { get; set; } = "127.0.0.1:6379";

    /// <summary>Redis AUTH password (empty: none). Never logged.</summary>
    public string RedisPassword { get; set; } = "";

    /// <summary>This node's name in the cluster; empty generates a fresh one at every start.</summary>
    public string NodeId { get; set; } = "";

    /// <summary>How often the node renews its liveness key.</summary>
    public int HeartbeatIntervalMs { get; set; } = 1000;

    /// <summary>A node whose liveness key was not renewed for this long (judged by Redis' clock) is declared dead.</summary>
    public int NodeTimeoutMs { get; set; } = 5000;

    /// <summary>Stanzas waiting per destination node while Redis is unreachable; beyond, they are bounced with a wait error.</summary>
    public int OutboxStanzas { get; set; } = 10_000;
}

/// <summary>External components (XEP-0114, jabber:component:accept): off until a service is listed.</summary>
public sealed class ComponentOptions
{
    /// <summary>Address to listen on: an IP address, or "any" / "loopback" (default: components run beside the server).</summary>
    public string Address { get; set; } = "loopback";

    /// <summary>The component port (5347 by convention; 0 picks a free port).</summary>
    public int Port { get; set; } = 5347;

    /// <summary>The components allowed to connect: each a domain of its own and the shared secret of the handshake.</summary>
    public List<ComponentServiceOptions> Services { get; set; } = [];
}

public sealed class ComponentServiceOptions
{
    /// <summary>The component's domain (e.g. <c>bot.example.org</c>); stanzas to it and its subdomain-free JIDs go to the component.</summary>
    public string Domain { get; set; } = "";

    /// <summary>The handshake secret (XEP-0114 §3: SHA-1 of stream id + secret). Not logged.</summary>
    public string Secret { get; set; } = "";
}

using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Protocol.Sasl;
using Tendril.Server.Configuration;
using Tendril.Server.Diagnostics;
using Tendril.Server.Hosting;
using Tendril.Storage;

namespace Tendril.Server.Admin;

public sealed record AdminStats(
    string Domain, double UptimeSeconds, int Connections, IReadOnlyDictionary<string, int> ConnectionsByTransport,
    int Sessions, double StanzasInTotal, double StanzasOutTotal, double StanzasInPerSecond, double StanzasOutPerSecond,
    long QueuedStanzas, int MaxQueueDepth);

public sealed record AdminSession(
    string Jid, long ConnectionId, string Listener, string Transport, string Remote, bool Secure,
    DateTimeOffset BoundAt, bool Available, int Priority, int QueueDepth);

/// <summary>A failure the admin caused (bad input, no such user): the API answers 400/404/409 with the message.</summary>
public sealed class AdminException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// What the admin page and the JSON API both do, in one place: counts, users, sessions, recent errors, reload and
/// feature sections.
/// </summary>
public sealed class AdminService
{
    private readonly XmppServer _server;
    private readonly MetricsCollector _metrics;
    private readonly RecentLogBuffer _recent;
    private readonly ConfigurationReloader? _reloader;
    private readonly IReadOnlyList<IAdminSection> _sections;
    private readonly ILogger _logger;
    private readonly Lock _rateGate = new();
    private readonly Queue<(DateTimeOffset Time, double In, double Out)> _samples = new();

    public AdminService(XmppServer server, MetricsCollector metrics, RecentLogBuffer recent, IEnumerable<IAdminSection> sections,
        ConfigurationReloader? reloader = null)
    {
        _server = server;
        _metrics = metrics;
        _recent = recent;
        _reloader = reloader;
        _sections = [.. sections, .. server.ServerFeatures.OfType<IAdminSection>(),
            .. server.ServerFeatures.OfType<IAdminSectionProvider>().SelectMany(p => p.AdminSections)];
        _logger = server.LoggerFactory.CreateLogger("Tendril.Admin");
    }

    public XmppServer Server => _server;

    public IReadOnlyList<IAdminSection> Sections => _sections;

    public AdminStats Stats()
    {
        var byTransport = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var connections = 0;
        foreach (var stream in _server.Heartbeat.Streams)
        {
            connections++;
            byTransport[stream.TransportName] = byTransport.GetValueOrDefault(stream.TransportName) + 1;
        }
        var now = _server.Time.GetUtcNow();
        var stanzasIn = _metrics.GetCounterTotal("tendril.stanzas.in") ?? 0;
        var stanzasOut = _metrics.GetCounterTotal("tendril.stanzas.out") ?? 0;
        double inRate, outRate;
        lock (_rateGate)
        {
            // Rate over the last ~10 s of samples (one per stats request), else since start.
            while (_samples.Count > 0 && now - _samples.Peek().Time > TimeSpan.FromSeconds(10)) _samples.Dequeue();
            var (time, baseIn, baseOut) = _samples.Count > 0 && now - _samples.Peek().Time >= TimeSpan.FromSeconds(1) ? _samples.Peek() : (_server.StartedAt, 0, 0);
            var seconds = Math.Max((now - time).TotalSeconds, 0.001);
            inRate = (stanzasIn - baseIn) / seconds;
            outRate = (stanzasOut - baseOut) / seconds;
            _samples.Enqueue((now, stanzasIn, stanzasOut));
        }
        var (queued, max, _, _) = TendrilMetrics.QueueDepths(_server);
        return new AdminStats(_server.Domain, Math.Round((now - _server.StartedAt).TotalSeconds, 1), connections, byTransport,
            _server.Sessions.Count, stanzasIn, stanzasOut, Math.Round(inRate, 2), Math.Round(outRate, 2), queued, max);
    }

    public async Task<IReadOnlyList<string>> ListUsersAsync(CancellationToken cancellationToken)
    {
        var names = await _server.Storage.Accounts.ListAsync(_server.Domain, cancellationToken).ConfigureAwait(false);
        return [.. names.Select(n => n + "@" + _server.Domain)];
    }

    public async Task<string> AddUserAsync(string user, string password, string by, CancellationToken cancellationToken)
    {
        var jid = Account(user);
        var (sha1, sha256) = Credentials(password);
        if (!await _server.Storage.Accounts.CreateAsync(new Account(jid.Local!, jid.Domain, sha1, sha256, _server.Time.GetUtcNow()), cancellationToken).ConfigureAwait(false))
        {
            throw new AdminException(409, $"The user {jid} already exists.");
        }
        _logger.LogInformation("Admin {Admin} created the user {User}", by, jid);
        return jid.ToString();
    }

    public async Task DeleteUserAsync(string user, string by, CancellationToken cancellationToken)
    {
        var jid = Account(user);
        if (!await _server.Storage.Accounts.DeleteAsync(jid.Domain, jid.Local!, cancellationToken).ConfigureAwait(false))
        {
            throw new AdminException(404, $"No such user: {jid}.");
        }
        _logger.LogInformation("Admin {Admin} deleted the user {User}", by, jid);
        await _server.CloseSessionsAsync(jid, new StreamError(StreamErrorCondition.PolicyViolation, "The account was deleted."), $"account deleted by {by}").ConfigureAwait(false);
    }

    /// <summary>Sets a new password. Established sessions stay (they authenticated with the old one); new logins need the new one.</summary>
    public async Task ResetPasswordAsync(string user, string password, string by, CancellationToken cancellationToken)
    {
        var jid = Account(user);
        var (sha1, sha256) = Credentials(password);
        if (!await _server.Storage.Accounts.UpdateCredentialsAsync(jid.Domain, jid.Local!, sha1, sha256, cancellationToken).ConfigureAwait(false))
        {
            throw new AdminException(404, $"No such user: {jid}.");
        }
        _logger.LogInformation("Admin {Admin} reset the password of {User}", by, jid);
    }

    public IReadOnlyList<AdminSession> ListSessions() =>
        [.. _server.Sessions.All()
            .Select(s => new AdminSession(s.JidString, s.Stream.Id, s.Stream.Listener, s.Stream.TransportName, s.Stream.RemoteEndPoint,
                s.Stream.IsSecure, s.BoundAt, s.IsAvailable, s.Priority, s.Stream.QueueDepth))
            .OrderBy(s => s.Jid, StringComparer.Ordinal)];

    /// <summary>
    /// Disconnects a full JID's session, or every session of a bare JID, with the stream error
    /// <c>policy-violation</c> (RFC 6120 §4.9.3.14: the entity is removed under local service policy). Not
    /// <c>reset</c> (§4.9.3.16), which tells the client to reconnect at once — the opposite of a kick. Returns how
    /// many sessions were closed.
    /// </summary>
    public async Task<int> KickAsync(string jidText, string by)
    {
        if (!Jid.TryParse(jidText.Trim(), out var jid) || jid is null || jid.Local is null || jid.Domain != _server.Domain)
        {
            throw new AdminException(400, $"'{jidText}' is not a JID of this server.");
        }
        // Sessions on every cluster node.
        var count = await _server.CloseSessionsAsync(jid, new StreamError(StreamErrorCondition.PolicyViolation, "Disconnected by an administrator."), $"kicked by {by}").ConfigureAwait(false);
        if (count == 0) throw new AdminException(404, $"No session for {jid}.");
        _logger.LogInformation("Admin {Admin} disconnected {Count} session(s) of {Jid}", by, count, jid);
        return count;
    }

    public IReadOnlyList<RecentLogEntry> RecentErrors() => _recent.Snapshot();

    public ReloadResult Reload(string by)
    {
        if (_reloader is null) throw new AdminException(501, "This host cannot reload its configuration.");
        return _reloader.Reload("admin " + by);
    }

    /// <summary>
    /// The configuration in force, with secrets (passwords, shared secrets, a connection string's password) shown only
    /// as set or not (issue 19: the page showed the Redis password).
    /// </summary>
    public System.Text.Json.Nodes.JsonNode EffectiveOptions()
    {
        var node = System.Text.Json.JsonSerializer.SerializeToNode(_server.Options.Sections(), new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))!;
        Redact(node);
        return node;
    }

    private static void Redact(System.Text.Json.Nodes.JsonNode? node)
    {
        switch (node)
        {
            case System.Text.Json.Nodes.JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (value is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<string>(out var text))
                    {
                        if (key.Contains("password", StringComparison.OrdinalIgnoreCase) || key.Contains("secret", StringComparison.OrdinalIgnoreCase))
                        {
                            obj[key] = text.Length == 0 ? "" : "(set)";
                        }
                        else if (key.Contains("connectionstring", StringComparison.OrdinalIgnoreCase))
                        {
                            obj[key] = System.Text.RegularExpressions.Regex.Replace(text, @"(?i)\b(password|pwd)\s*=\s*[^;]*", "$1=(set)");
                        }
                        continue;
                    }
                    Redact(value);
                }
                break;
            case System.Text.Json.Nodes.JsonArray array:
                foreach (var item in array) Redact(item);
                break;
        }
    }

    private Jid Account(string user) =>
        AdminAuthenticator.ParseAccount(_server, user) ?? throw new AdminException(400, $"'{user}' is not a valid account of {_server.Domain} (use user or user@{_server.Domain}).");

    private (ScramCredential, ScramCredential) Credentials(string password)
    {
        if (string.IsNullOrEmpty(password)) throw new AdminException(400, "The password is empty.");
        var iterations = _server.Options.Sasl.ScramIterations;
        try
        {
            return (ScramCredential.Create(password, ScramHash.Sha1, iterations), ScramCredential.Create(password, ScramHash.Sha256, iterations));
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new AdminException(400, "The password is not acceptable: " + e.Message);
        }
    }
}

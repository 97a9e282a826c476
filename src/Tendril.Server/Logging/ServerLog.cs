using Microsoft.Extensions.Logging;

namespace Tendril.Server.Logging;

/// <summary>Source-generated log messages with stable event ids, grouped by area (1xx listeners, 2xx connections, 3xx routing).</summary>
internal static partial class ServerLog
{
    [LoggerMessage(100, LogLevel.Information, "{Listener} listening on {EndPoint}")]
    public static partial void ListenerStarted(ILogger logger, string listener, string endPoint);

    // 101 (one line per failed accept) was replaced by 104, logged once per 10 s.

    [LoggerMessage(102, LogLevel.Error, "{Listener}: connection handler crashed")]
    public static partial void ConnectionCrashed(ILogger logger, string listener, Exception ex);

    [LoggerMessage(103, LogLevel.Warning, "Refused {Count} connection(s) in the last 10 s over the connection limits (latest: {Reason} on {Listener} from {Address}); open {Open}, unauthenticated {Unauthenticated}; limits: {Limits}")]
    public static partial void ConnectionsRefused(ILogger logger, long count, string reason, string listener, string address, int open, int unauthenticated, string limits);

    [LoggerMessage(104, LogLevel.Warning, "{Listener}: accept failed {Count} time(s) in the last 10 s ({Error}: {Message}); backing off {DelayMs} ms and continuing")]
    public static partial void AcceptFailing(ILogger logger, string listener, long count, string error, string message, int delayMs);

    [LoggerMessage(105, LogLevel.Warning, "Tendril:Limits:MaxConnections {Configured} is above what the descriptor limit {DescriptorLimit} allows with headroom; using {Used}")]
    public static partial void ConnectionLimitClamped(ILogger logger, int configured, long descriptorLimit, int used);

    [LoggerMessage(106, LogLevel.Information, "Connection limits: {Limits}")]
    public static partial void ConnectionLimitsInForce(ILogger logger, string limits);

    [LoggerMessage(200, LogLevel.Information, "c2s {ConnectionId} opened from {Remote} on {Listener}")]
    public static partial void ConnectionOpened(ILogger logger, long connectionId, string remote, string listener);

    [LoggerMessage(201, LogLevel.Information, "c2s {ConnectionId} authenticated as {User} ({Mechanism})")]
    public static partial void Authenticated(ILogger logger, long connectionId, string user, string mechanism);

    [LoggerMessage(202, LogLevel.Information, "c2s {ConnectionId} bound {Jid}")]
    public static partial void Bound(ILogger logger, long connectionId, string jid);

    [LoggerMessage(203, LogLevel.Information, "c2s {ConnectionId} closed ({Jid}): {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, long connectionId, string jid, string reason);

    [LoggerMessage(204, LogLevel.Information, "c2s {ConnectionId} TLS established ({Protocol})")]
    public static partial void TlsEstablished(ILogger logger, long connectionId, string protocol);

    [LoggerMessage(205, LogLevel.Information, "c2s {ConnectionId} authentication failed for {User} ({Mechanism}): {Condition}")]
    public static partial void AuthenticationFailed(ILogger logger, long connectionId, string user, string mechanism, string condition);

    [LoggerMessage(206, LogLevel.Warning, "c2s {ConnectionId} unexpected error")]
    public static partial void ConnectionError(ILogger logger, long connectionId, Exception ex);

    [LoggerMessage(207, LogLevel.Debug, "c2s {ConnectionId} I/O ended: {Message}")]
    public static partial void ConnectionIoEnded(ILogger logger, long connectionId, string message);

    [LoggerMessage(300, LogLevel.Warning, "Outbound queue of {Jid} is full; bounced a {Stanza}")]
    public static partial void OutboundQueueFull(ILogger logger, string jid, string stanza);

    [LoggerMessage(301, LogLevel.Error, "Feature handler for {Payload} failed")]
    public static partial void FeatureFailed(ILogger logger, string payload, Exception ex);

    [LoggerMessage(310, LogLevel.Error, "Presence handling for {Jid} failed")]
    public static partial void PresenceFailed(ILogger logger, string jid, Exception ex);

    // 311 (a stack trace for every stanza a filter could not decide on) was replaced by StorageOutageLog's 320-322.
}

using Microsoft.Extensions.Logging;

namespace Tendril.Cluster;

internal static partial class ClusterLog
{
    [LoggerMessage(EventId = 900, Level = LogLevel.Information, Message = "Cluster node {Node} joined through Redis at {EndPoint}")]
    public static partial void Joined(ILogger logger, string node, string endPoint);

    [LoggerMessage(EventId = 901, Level = LogLevel.Information, Message = "Cluster node {Node} left the cluster ({Sessions} sessions removed)")]
    public static partial void Left(ILogger logger, string node, long sessions);

    [LoggerMessage(EventId = 902, Level = LogLevel.Warning, Message = "Cluster: purged dead node {Dead} ({Sessions} sessions)")]
    public static partial void Purged(ILogger logger, string dead, int sessions);

    [LoggerMessage(EventId = 903, Level = LogLevel.Warning, Message = "Cluster: Redis unreachable; local traffic continues, cross-node stanzas wait")]
    public static partial void RedisDown(ILogger logger);

    [LoggerMessage(EventId = 904, Level = LogLevel.Information, Message = "Cluster: Redis reachable again; re-published {Sessions} local sessions, replica holds {Accounts} accounts")]
    public static partial void Resynced(ILogger logger, int sessions, int accounts);

    [LoggerMessage(EventId = 905, Level = LogLevel.Warning, Message = "Cluster: outbox to node {Node} failed")]
    public static partial void OutboxFailed(ILogger logger, string node, Exception exception);

    [LoggerMessage(EventId = 906, Level = LogLevel.Debug, Message = "Cluster: Redis operation {Operation} failed: {Message}")]
    public static partial void RedisFailed(ILogger logger, string operation, string message);

    [LoggerMessage(EventId = 907, Level = LogLevel.Warning, Message = "Cluster: node {Node} is dead; {Count} stanzas it had not confirmed handed back to local routing")]
    public static partial void GaveBack(ILogger logger, string node, int count);

    [LoggerMessage(EventId = 912, Level = LogLevel.Warning, Message = "Cluster: node {Node} restarted; {Count} stanzas its previous process had not confirmed handed back to local routing")]
    public static partial void GaveBackRestarted(ILogger logger, string node, int count);

    [LoggerMessage(EventId = 908, Level = LogLevel.Warning, Message = "Cluster: handling a record from another node failed")]
    public static partial void ReceiveFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 909, Level = LogLevel.Information, Message = "Cluster: {Jid} was bound on node {Node}; replaced there")]
    public static partial void ReplacedRemote(ILogger logger, string jid, string node);

    [LoggerMessage(EventId = 910, Level = LogLevel.Warning, Message = "Cluster: this node had been declared dead or Redis lost its data; re-publishing local sessions")]
    public static partial void Rejoined(ILogger logger);

    [LoggerMessage(EventId = 911, Level = LogLevel.Warning, Message = "Cluster: after re-joining, {Step} failed")]
    public static partial void RejoinStepFailed(ILogger logger, string step, Exception exception);
}

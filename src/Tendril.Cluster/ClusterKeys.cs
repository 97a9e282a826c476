namespace Tendril.Cluster;

/// <summary>Every Redis key and channel the cluster uses, under one prefix per domain (docs/cluster.md lists them).</summary>
public sealed class ClusterKeys(string domain)
{
    /// <summary><c>tendril:{domain}:</c> — several domains (or test runs) can share one Redis.</summary>
    public string Prefix { get; } = "tendril:" + domain + ":";

    /// <summary>SET of the node ids believed alive.</summary>
    public string Nodes => Prefix + "nodes";

    /// <summary>Global version counter: every routing-table write takes the next value.</summary>
    public string Sequence => Prefix + "seq";

    /// <summary>Channel of routing-table changes (one JSON message per changed account).</summary>
    public string Events => Prefix + "events";

    /// <summary>STRING with a TTL of NodeTimeoutMs, renewed by each heartbeat: the node is alive while it exists (Redis' clock).</summary>
    public string Alive(string node) => Prefix + "alive:" + node;

    /// <summary>
    /// STRING set (for an hour) by the sweep that declared the node dead; the node's next heartbeat takes it, and so learns
    /// that the others handed back what it had not confirmed (what reaches it of their old streams is theirs no more).
    /// </summary>
    public string Purged(string node) => Prefix + "purged:" + node;

    /// <summary>SET of the full JIDs bound on a node (what a purge removes).</summary>
    public string NodeSessions(string node) => Prefix + "node:" + node + ":sessions";

    /// <summary>HASH resource → session record, plus "#v" → the version of the last write, per bare JID.</summary>
    public string Account(string bareJid) => Prefix + "s:" + bareJid;

    /// <summary>Channel on which a node receives the stanzas other nodes route to its sessions.</summary>
    public string NodeChannel(string node) => Prefix + "ch:" + node;
}

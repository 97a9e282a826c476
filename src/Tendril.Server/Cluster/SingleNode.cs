using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Cluster;

/// <summary>The default: one node, nobody elsewhere. Every call is a constant answer.</summary>
public sealed class SingleNode : IClusterBackend
{
    public static SingleNode Instance { get; } = new();

    public bool IsClustered => false;

    public string NodeId => "";

    public void Attach(XmppServer server) { }

    public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task StopAsync() => Task.CompletedTask;

    public RemoteSession[] FindAll(Jid jid) => [];

    public RemoteSession? Find(Jid fullJid) => null;

    public bool TryDeliver(RemoteSession target, XmlElement stanza, bool addressToTarget = false) => false;

    public ValueTask SessionBoundAsync(C2sSession session) => ValueTask.CompletedTask;

    public ValueTask SessionChangedAsync(C2sSession session) => ValueTask.CompletedTask;

    public ValueTask SessionUnboundAsync(C2sSession session) => ValueTask.CompletedTask;

    public void SendAccountEvent(Jid account, string name, XmlElement payload) { }

    public void SendClusterEvent(string name, XmlElement payload) { }

    public void OnAccountEvent(string name, Func<Jid, XmlElement, ValueTask> handler) { }
}

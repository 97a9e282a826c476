using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>
/// Pubsub services across cluster nodes: their state lives in the shared store and is cached per node; a node that
/// changed a service tells the others, which drop their copy and read it again on next use (docs/cluster.md).
/// </summary>
internal static class PubSubCluster
{
    public const string EventName = "pubsub-changed";
    public const string PepEventName = "pep-changed";
    private const string Namespace = "urn:tendril:cluster:pubsub";

    public static Action<PubSubService> Announce(XmppServer server, bool pep = false) => service =>
        server.Cluster.SendClusterEvent(pep ? PepEventName : EventName, new XmlElement("changed", Namespace).SetAttribute("service", service.JidString));

    /// <summary>After missed events (<see cref="Cluster.IClusterBackend.EventsMissed"/>): every copy is read again on next use.</summary>
    public static void InvalidateAll(IEnumerable<PubSubService> services) => _ = InvalidateAllAsync(services);

    private static async Task InvalidateAllAsync(IEnumerable<PubSubService> services)
    {
        foreach (var service in services) await service.InvalidateAsync().ConfigureAwait(false);
    }
}

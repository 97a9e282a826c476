using Tendril.Storage;

namespace Tendril.Server.Features.PubSub;

/// <summary>
/// The store as a <see cref="PubSubService"/> sees it (<see cref="PubSubService.Store"/>): reads go straight through;
/// every successful write then calls <see cref="PubSubService.ChangedLocally"/>, so in a cluster the other nodes drop
/// their cached copy of the service. Being the only way the service reaches the store, it is the one place every
/// mutation path — XMPP iq, authorization answers, the HTTP publish API, any later one — announces its change.
/// </summary>
internal sealed class ChangeAnnouncingPubSubStore(PubSubService service, Func<IPubSubStore> inner) : IPubSubStore
{
    private IPubSubStore Inner => inner();

    private void Changed() => service.ChangedLocally?.Invoke(service);

    public ValueTask<PubSubServiceSnapshot> LoadServiceAsync(string service, CancellationToken cancellationToken = default) =>
        Inner.LoadServiceAsync(service, cancellationToken);

    public ValueTask<IReadOnlyDictionary<string, PubSubServiceSnapshot>> LoadServicesAsync(IReadOnlyCollection<string> services, CancellationToken cancellationToken = default) =>
        Inner.LoadServicesAsync(services, cancellationToken);

    public ValueTask<PubSubItemPage> GetItemsAsync(string service, string node, int? max, string? after = null, string? before = null, CancellationToken cancellationToken = default) =>
        Inner.GetItemsAsync(service, node, max, after, before, cancellationToken);

    public ValueTask<IReadOnlyList<PubSubItemRecord>> GetItemsByIdAsync(string service, string node, IReadOnlyCollection<string> itemIds, CancellationToken cancellationToken = default) =>
        Inner.GetItemsByIdAsync(service, node, itemIds, cancellationToken);

    public async ValueTask<bool> CreateNodeAsync(PubSubNodeRecord node, CancellationToken cancellationToken = default)
    {
        var created = await Inner.CreateNodeAsync(node, cancellationToken).ConfigureAwait(false);
        if (created) Changed();
        return created;
    }

    public async ValueTask<bool> UpdateNodeConfigAsync(string service, string node, IReadOnlyDictionary<string, IReadOnlyList<string>> config, CancellationToken cancellationToken = default)
    {
        var updated = await Inner.UpdateNodeConfigAsync(service, node, config, cancellationToken).ConfigureAwait(false);
        if (updated) Changed();
        return updated;
    }

    public async ValueTask<bool> DeleteNodeAsync(string service, string node, CancellationToken cancellationToken = default)
    {
        var deleted = await Inner.DeleteNodeAsync(service, node, cancellationToken).ConfigureAwait(false);
        Changed(); // also when it was gone already: another node may still hold it
        return deleted;
    }

    public async ValueTask PublishItemAsync(PubSubItemRecord item, int? maxItems, CancellationToken cancellationToken = default)
    {
        await Inner.PublishItemAsync(item, maxItems, cancellationToken).ConfigureAwait(false);
        Changed();
    }

    public async ValueTask<bool> RetractItemAsync(string service, string node, string itemId, CancellationToken cancellationToken = default)
    {
        var retracted = await Inner.RetractItemAsync(service, node, itemId, cancellationToken).ConfigureAwait(false);
        if (retracted) Changed();
        return retracted;
    }

    public async ValueTask PurgeItemsAsync(string service, string node, CancellationToken cancellationToken = default)
    {
        await Inner.PurgeItemsAsync(service, node, cancellationToken).ConfigureAwait(false);
        Changed();
    }

    public async ValueTask SetSubscriptionAsync(PubSubSubscriptionRecord subscription, CancellationToken cancellationToken = default)
    {
        await Inner.SetSubscriptionAsync(subscription, cancellationToken).ConfigureAwait(false);
        Changed();
    }

    public async ValueTask<bool> RemoveSubscriptionAsync(string service, string node, string jid, string subId, CancellationToken cancellationToken = default)
    {
        var removed = await Inner.RemoveSubscriptionAsync(service, node, jid, subId, cancellationToken).ConfigureAwait(false);
        if (removed) Changed();
        return removed;
    }

    public async ValueTask SetAffiliationAsync(string service, string node, string jid, string affiliation, CancellationToken cancellationToken = default)
    {
        await Inner.SetAffiliationAsync(service, node, jid, affiliation, cancellationToken).ConfigureAwait(false);
        Changed();
    }
}

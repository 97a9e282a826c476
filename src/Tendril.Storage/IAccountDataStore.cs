namespace Tendril.Storage;

/// <summary>
/// Small per-account documents kept as text under (store, key): the vCard, private XML by namespace, the last logout,
/// the blocklist — the data of features that need no query beyond "this account's entries of this store" (Prosody's
/// keyval stores). Rows go with the account (deleting the account deletes them).
/// </summary>
public interface IAccountDataStore
{
    /// <summary>The value, or null when none is stored.</summary>
    ValueTask<string?> GetAsync(string domain, string username, string store, string key, CancellationToken cancellationToken = default);

    /// <summary>How many entries the store holds for the account (a cap's check, without reading the values).</summary>
    ValueTask<int> CountAsync(string domain, string username, string store, CancellationToken cancellationToken = default);

    /// <summary>Every (key, value) of the store for the account, ordered by key (ordinal).</summary>
    ValueTask<IReadOnlyList<KeyValuePair<string, string>>> ListAsync(string domain, string username, string store, CancellationToken cancellationToken = default);

    /// <summary>Inserts or replaces the values (atomically); false when the account does not exist (nothing is written).</summary>
    ValueTask<bool> SetAsync(string domain, string username, string store, IReadOnlyCollection<KeyValuePair<string, string>> entries, CancellationToken cancellationToken = default);

    /// <summary>Deletes the given keys (atomically); returns how many existed.</summary>
    ValueTask<int> DeleteAsync(string domain, string username, string store, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default);

    /// <summary>Deletes every entry of the store for the account; returns how many existed.</summary>
    ValueTask<int> ClearAsync(string domain, string username, string store, CancellationToken cancellationToken = default);
}

public static class AccountDataStoreExtensions
{
    /// <summary>Inserts or replaces one value; false when the account does not exist.</summary>
    public static ValueTask<bool> PutAsync(this IAccountDataStore store, string domain, string username, string name, string key, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.SetAsync(domain, username, name, [new KeyValuePair<string, string>(key, value)], cancellationToken);
    }
}
